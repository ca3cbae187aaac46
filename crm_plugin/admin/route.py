"""«Утренний маршрут»: when field staff get the day's route (crm_plugin.bot.route): on or off, the time in the
company's zone, the working days. The text itself is a notification template («Шаблоны уведомлений»)."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose

from ..bot.route import DEFAULT_SEND_AT, DEFAULT_WEEKDAYS, load_schedule
from ..core.i18n import N_
from ..core.models import RouteSettings
from ..web.current import get_state
from .base import PluginBaseView, csrf_ok
from .i18n import lazy_t, t

MENU_NAME = N_("Утренний маршрут")  # plugin.toml's menu entry, here for the catalogue extraction
WEEKDAY_NAMES = (lazy_t("Пн"), lazy_t("Вт"), lazy_t("Ср"), lazy_t("Чт"), lazy_t("Пт"), lazy_t("Сб"), lazy_t("Вс"))
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


class RouteView(PluginBaseView):
    @expose("/", methods=("GET", "POST"))
    def index_view(self) -> Any:
        state = get_state()
        if request.method == "POST":
            return self._save()
        with state.db.session() as session:
            schedule = load_schedule(session)
        return self.render("crm_plugin/admin/route.html", schedule=schedule, weekday_names=WEEKDAY_NAMES,
                           send_at=schedule.send_at.strftime("%H:%M"), tz=state.settings.tz.key,
                           default_send_at=DEFAULT_SEND_AT.strftime("%H:%M"))

    def _save(self) -> Any:
        if not csrf_ok():
            flash(t("Форма устарела: обновите страницу"), "error")
            return redirect(url_for(".index_view"))
        match = _TIME.fullmatch(request.form.get("send_at", "").strip())
        days = "".join(str(d) for d in range(7) if request.form.get(f"day{d}"))
        if match is None:
            flash(t("Время укажите как ЧЧ:ММ, например 08:00"), "error")
            return redirect(url_for(".index_view"))
        with get_state().db.session() as session:
            row = session.get(RouteSettings, 1)
            if row is None:
                row = RouteSettings(id=1, weekdays="".join(str(d) for d in sorted(DEFAULT_WEEKDAYS)))
                session.add(row)
            row.enabled = bool(request.form.get("enabled"))
            row.send_at = f"{int(match.group(1)):02d}:{match.group(2)}"
            row.weekdays = days
        flash(t("Утренний маршрут сохранён"), "success")
        return redirect(url_for(".index_view"))
