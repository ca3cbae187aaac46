"""«Доступ к статистике»: which metrics each role sees in the bot, the instant send and the schedules.

A grid of the CRM's metrics by role. Every box starts ticked (the rule of crm_plugin.stats.access); unticking
takes the metric away from the role. Where the rule forbids a metric to a role whatever is chosen (company
figures for measurers and installers), the cell says so instead of a box.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose

from ..core.i18n import N_
from ..host import Role
from ..stats import access
from ..web.current import get_state
from .base import PluginBaseView, csrf_ok
from .i18n import language, lazy_t, t

MENU_NAME = N_("Доступ к статистике")  # plugin.toml's menu entry, here for the catalogue extraction

ROLE_NAMES = {Role.ADMIN: lazy_t("Администраторы"), Role.MANAGER: lazy_t("Менеджеры"),
              Role.MEASURER: lazy_t("Замерщики"), Role.INSTALLER: lazy_t("Монтажники")}


def field_name(role: Role, key: str) -> str:
    return f"allow:{role.value}:{key}"


class StatsAccessView(PluginBaseView):
    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        state = get_state()
        specs = state.gateway.metrics()
        if request.method == "POST":
            if not csrf_ok():
                flash(t("Форма устарела: обновите страницу"), "error")
                return redirect(url_for(".index"))
            allowed = {(role, spec.key) for role in access.ROLES for spec in specs
                       if request.form.get(field_name(role, spec.key))}
            with state.db.session() as session:
                access.set_rights(session, specs, allowed)
            flash(t("Доступ к статистике сохранён"), "success")
            return redirect(url_for(".index"))
        with state.db.session() as session:
            grid = access.rights(session, specs)
        return self.render("crm_plugin/admin/stats_access.html", specs=specs, roles=access.ROLES, grid=grid,
                           role_names=ROLE_NAMES, field_name=field_name, lang=language())
