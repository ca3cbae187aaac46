"""Табель: hours per employee per day from the bot's clock-in/out records, for a period, and as CSV; below
the grid every shift with its arrival and departure times and the places the bot recorded (map links)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from flask import Response, request
from flask_admin import expose
from sqlalchemy import or_, select

from ..bot.timesheet import TimesheetRow, timesheet
from ..core.models import Attendance
from ..web.current import get_state
from .base import PluginBaseView, user_label
from .filters import FIRST_DAY, LAST_DAY, company_tz, day_start, in_range
from .i18n import t

MAX_DAYS = 92  # a quarter: wider grids stop being readable, and the CSV is for longer reports anyway


def _period(today: date) -> tuple[date, date, str | None]:
    """The requested days, defaulting to this month so far; an unreadable or reversed period is explained."""
    try:
        start = date.fromisoformat(request.args["start"]) if request.args.get("start") else today.replace(day=1)
        end = date.fromisoformat(request.args["end"]) if request.args.get("end") else today
    except ValueError:
        return today.replace(day=1), today, t("Даты в виде ГГГГ-ММ-ДД; показан текущий месяц")
    if not in_range(start, end):  # year 9999 or 0001: no local midnight of it is a datetime in every zone
        return today.replace(day=1), today, t("Даты с %(first)s по %(last)s; показан текущий месяц",
                                              first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
    if end < start:
        return end, start, t("Начало было позже конца: даты переставлены")
    if (end - start).days >= MAX_DAYS:
        return start, start + timedelta(days=MAX_DAYS - 1), t("Не больше %(days)s дней за раз", days=MAX_DAYS)
    return start, end, None


def map_url(latitude: float | None, longitude: float | None) -> str | None:
    """The recorded place on OpenStreetMap (no key, opens on any phone); None when the bot got no point."""
    if latitude is None or longitude is None:
        return None
    return (f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
            f"#map=17/{latitude:.6f}/{longitude:.6f}")


class TimesheetView(PluginBaseView):
    @expose("/")
    def index_view(self) -> Any:
        tz = company_tz()
        start, end, problem = _period(datetime.now(tz).date())
        with get_state().db.session() as session:
            rows = timesheet(session, start, end, tz)
            shifts = list(session.scalars(select(Attendance).where(
                Attendance.started_at < day_start(end + timedelta(days=1), tz),
                or_(Attendance.ended_at.is_(None), Attendance.ended_at > day_start(start, tz)))
                .order_by(Attendance.started_at)))
            session.expunge_all()
        if request.args.get("format") == "csv":
            return self._csv(rows, start, end, tz)
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        grid: dict[int, dict[date, TimesheetRow]] = {}
        for row in rows:
            grid.setdefault(row.crm_user_id, {})[row.day] = row
        people = sorted(grid, key=lambda uid: user_label(uid))
        totals = {uid: round(sum(r.hours for r in grid[uid].values()), 2) for uid in people}
        shifts.sort(key=lambda s: (user_label(s.crm_user_id), s.started_at))
        return self.render("crm_plugin/admin/timesheet.html", start=start, end=end, days=days, grid=grid,
                           people=people, totals=totals, problem=problem, tz=tz.key, shifts=shifts,
                           clock=lambda value: value.astimezone(tz).strftime("%H:%M") if value else "",
                           local=lambda value: value.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
                           map_url=map_url)

    def _csv(self, rows: list[TimesheetRow], start: date, end: date, tz: Any) -> Response:
        out = io.StringIO()
        out.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly
        writer = csv.writer(out, delimiter=";")
        writer.writerow([t("Сотрудник"), t("Дата"), t("Часы"), t("Приход"), t("Уход"), t("Смена открыта")])
        for row in sorted(rows, key=lambda r: (user_label(r.crm_user_id), r.day)):
            writer.writerow([
                user_label(row.crm_user_id), row.day.isoformat(), f"{row.hours:.2f}".replace(".", ","),
                row.first_in.astimezone(tz).strftime("%H:%M"),
                row.last_out.astimezone(tz).strftime("%H:%M") if row.last_out else "",
                t("да") if row.open else "",
            ])
        filename = f"timesheet_{start.isoformat()}_{end.isoformat()}.csv"
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
