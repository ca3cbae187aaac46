"""The admin tab "Боты, Пользователи" in the host's Flask-Admin (or the plugin's own Admin when it has none).

The menu entries, their names and order come from plugin.toml ([[admin.menu]]); each endpoint's prefix names
the view class below. The views work on the plugin's own database through one scoped session per app
context, removed at teardown.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

from flask import Flask
from flask_admin import Admin, BaseView
from sqlalchemy.orm import scoped_session

from ..core.i18n import N_
from ..core.state import PluginState
from .access_view import AccessView
from .bots import BotView
from .dashboard import DashboardView
from .employees import EmployeeView
from .errors import handle_unknown_addresses
from .i18n import lazy_t
from .leads import LeadView
from .messages import MessageView
from .notification_templates import NotificationTemplateView
from .route import RouteView
from .stats import StatsView
from .stats_access import StatsAccessView
from .stats_schedules import StatsScheduleView
from .timesheet import TimesheetView
from .webchat import WebChatView

log = logging.getLogger(__name__)

# plugin.toml's menu names, listed here so the catalogue extraction sees them (lazy_t translates them).
MENU_TEXTS = (N_("Обзор"), N_("Боты"), N_("Сотрудники"), N_("Доступ"), N_("Журнал сообщений"), N_("Табель"),
              N_("Боты, Пользователи"), N_("Шаблоны уведомлений"),
              N_("Статистика"), N_("Расписания статистики"))

# endpoint -> (view factory, url under the admin). Model views take the scoped session first.
VIEWS: dict[str, tuple[Callable[..., BaseView], str]] = {
    "crm_plugin_dashboard": (lambda _session, **kw: DashboardView(**kw), "crm-plugin"),
    "crm_plugin_bots": (lambda session, **kw: BotView(session, **kw), "crm-plugin/bots"),
    "crm_plugin_employees": (lambda session, **kw: EmployeeView(session, **kw), "crm-plugin/employees"),
    "crm_plugin_access": (lambda session, **kw: AccessView(session, **kw), "crm-plugin/access"),
    "crm_plugin_stats": (lambda _session, **kw: StatsView(**kw), "crm-plugin/stats"),
    "crm_plugin_stats_schedules": (lambda session, **kw: StatsScheduleView(session, **kw),
                                   "crm-plugin/stats-schedules"),
    "crm_plugin_stats_access": (lambda _session, **kw: StatsAccessView(**kw), "crm-plugin/stats-access"),
    "crm_plugin_messages": (lambda session, **kw: MessageView(session, **kw), "crm-plugin/messages"),
    "crm_plugin_leads": (lambda session, **kw: LeadView(session, **kw), "crm-plugin/leads"),
    "crm_plugin_timesheet": (lambda _session, **kw: TimesheetView(**kw), "crm-plugin/timesheet"),
    "crm_plugin_webchat": (lambda _session, **kw: WebChatView(**kw), "crm-plugin/webchat"),
    "crm_plugin_templates": (lambda _session, **kw: NotificationTemplateView(**kw), "crm-plugin/templates"),
    "crm_plugin_route": (lambda _session, **kw: RouteView(**kw), "crm-plugin/route"),
}


def register_admin(app: Flask, state: PluginState) -> Admin:
    admins: list[Admin] = app.extensions.get("admin", [])
    admin = admins[0] if admins else Admin(app, name="CRM Bots", url=state.settings.prefix + "/admin",
                                           endpoint="crm_plugin_admin")
    session = scoped_session(state.db.sessions)
    app.teardown_appcontext(lambda _exc: session.remove())
    category = state.settings.admin_category
    for entry in state.manifest.admin_menu:
        endpoint = entry.endpoint.split(".", 1)[0]
        if endpoint not in VIEWS:
            log.debug("admin menu entry %s is registered by its own module", entry.endpoint)
            continue
        factory, url = VIEWS[endpoint]
        with warnings.catch_warnings():
            # Flask-Admin 2 prefers a Flask-SQLAlchemy object; the plugin's own engine has none, and a
            # scoped session is the documented way for plain SQLAlchemy.
            warnings.filterwarnings("ignore", "Passing a session object directly", DeprecationWarning)
            view = factory(session, name=lazy_t(entry.name), category=category or entry.category,
                           endpoint=endpoint, url=url)
        admin.add_view(view)
    handle_unknown_addresses(app, f"{admin.url.rstrip('/')}/crm-plugin/")
    return admin
