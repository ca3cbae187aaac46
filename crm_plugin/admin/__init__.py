"""The admin tab "Боты, Пользователи" in the host's Flask-Admin (or the plugin's own Admin)."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin

from ..extension import PluginState
from .dashboard import DashboardView


def register_admin(app: Flask, state: PluginState) -> Admin:
    admins: list[Admin] = app.extensions.get("admin", [])
    admin = admins[0] if admins else Admin(app, name="CRM Bots", url=state.setting("URL_PREFIX") + "/admin",
                                           endpoint="crm_plugin_admin")
    category = state.setting("ADMIN_CATEGORY")
    admin.add_view(DashboardView(name="Обзор", category=category, endpoint="crm_plugin_dashboard",
                                 url="crm-plugin"))
    return admin
