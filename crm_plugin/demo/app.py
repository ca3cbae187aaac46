"""The demo host CRM: a small CRM of a PVC-window company in Казань with the plugin mounted.

Configuration, lowest to highest: the defaults below, ``FLASK_*`` environment variables
(``FLASK_SQLALCHEMY_DATABASE_URI``, ``FLASK_CRM_PLUGIN_WORKER``, ...), then ``test_config``. On SQLite the
plugin keeps its tables in a file next to the CRM's (crm_plugin.db.plugin_database_url).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel
from flask_wtf import CSRFProtect

from .. import CrmPlugin
from ..core.db import normalise_url
from ..phones import format_phone
from . import forms
from .admin import create_admin
from .auth import bp as auth_bp
from .auth import login_manager
from .gateway import DemoGateway
from .models import db
from .timeutil import DEFAULT_TIMEZONE, format_local
from .views import register_views

log = logging.getLogger(__name__)

csrf = CSRFProtect()  # every POST, as a real CRM runs it: the plugin exempts its own webhooks itself
babel = Babel()
LANGUAGES = ("ru", "en")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__package__ or "crm_plugin.demo", instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY="dev-only-secret-change-me",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{Path(app.instance_path) / 'demo.db'}",
        DEMO_TIMEZONE=DEFAULT_TIMEZONE,
        DEMO_CITY="Казань",
        BABEL_DEFAULT_LOCALE="ru",
    )
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    _configure_database(app)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_locale)  # Flask-Admin and the plugin's tab speak the user's language
    app.register_blueprint(auth_bp)
    register_views(app)
    _register_template_helpers(app)

    create_admin(app)  # before the plugin, so its tab joins this admin
    CrmPlugin(app, gateway=DemoGateway(db))

    from .cli import demo

    app.cli.add_command(demo)
    return app


def _configure_database(app: Flask) -> None:
    url = normalise_url(app.config["SQLALCHEMY_DATABASE_URI"])  # plain postgresql:// means psycopg 3
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        # Two writers (web requests, the delivery thread) share a file: wait for a lock rather than fail at once.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})


def _locale() -> str:
    """Russian unless the user chose otherwise with ?lang=en (kept in the session)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return session.get("lang") or "ru"


def _money(value: Decimal | float | None) -> str:
    return f"{value or 0:,.0f}".replace(",", "\u00a0") + "\u00a0₽"


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters.update(local=format_local, phone=format_phone, money=_money)
    app.jinja_env.globals.update(
        JOB_KIND_LABELS=forms.JOB_KIND_LABELS, JOB_STATUS_LABELS=forms.JOB_STATUS_LABELS,
        ORDER_STATUS_LABELS=forms.ORDER_STATUS_LABELS, FILE_KIND_LABELS=forms.FILE_KIND_LABELS,
        ROLE_LABELS=forms.ROLE_LABELS,
    )
