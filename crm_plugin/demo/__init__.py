"""The demo host CRM (a PVC-window company in Казань) with crm_plugin mounted.

    flask --app crm_plugin.demo demo seed     # tables, plugin migrations, demo data (admin / admin)
    flask --app crm_plugin.demo demo serve    # the CRM with the plugin's delivery thread
"""

from __future__ import annotations

from .app import create_app
from .database import init_db

__all__ = ["create_app", "init_db"]
