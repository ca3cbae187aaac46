"""A WSGI entry point for servers that want an app object: ``gunicorn crm_plugin.demo.wsgi:app``."""

from __future__ import annotations

from . import create_app

app = create_app()
