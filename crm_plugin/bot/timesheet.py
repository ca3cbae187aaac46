"""Hours worked per employee per day, from the attendance records, for the admin's timesheet and CSV."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..core.models import Attendance


@dataclass(frozen=True)
class TimesheetRow:
    crm_user_id: int
    day: date  # a local day of the company
    hours: float  # closed shifts only, rounded to hundredths
    first_in: datetime  # UTC
    last_out: datetime | None  # UTC; None while a shift of that day is open
    open: bool  # a shift of that day has no clock-out yet (not counted in hours)


def timesheet(session: Session, start: date, end: date, tz: ZoneInfo | str) -> list[TimesheetRow]:
    """Rows for the local days ``start``..``end`` (inclusive), ordered by employee and day.

    A shift over midnight is split between its two days. A shift still open is listed (open=True) but adds
    no hours: nobody knows yet when it ends, and a forgotten clock-out must not count as work.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    begin = _midnight(start, zone)
    finish = _midnight(end + timedelta(days=1), zone)
    stmt = (select(Attendance)
            .where(Attendance.started_at < finish, or_(Attendance.ended_at.is_(None), Attendance.ended_at > begin))
            .order_by(Attendance.crm_user_id, Attendance.started_at))
    seconds: dict[tuple[int, date], float] = defaultdict(float)
    first_in: dict[tuple[int, date], datetime] = {}
    last_out: dict[tuple[int, date], datetime | None] = {}
    still_open: set[tuple[int, date]] = set()
    for shift in session.scalars(stmt):
        stop = shift.ended_at
        day = max(shift.started_at, begin).astimezone(zone).date()
        while True:
            day_begin, day_end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
            if day_begin >= finish or (stop is not None and day_begin >= stop):
                break
            key = (shift.crm_user_id, day)
            first_in.setdefault(key, max(shift.started_at, day_begin))
            if stop is None:
                still_open.add(key)
                last_out[key] = None
                break  # an open shift is marked on the day it started
            piece_end = min(stop, day_end)
            seconds[key] += (piece_end - max(shift.started_at, day_begin)).total_seconds()
            if key not in still_open:
                last_out[key] = max(piece_end, last_out.get(key) or piece_end)
            day += timedelta(days=1)
    keys = sorted(set(first_in))
    return [TimesheetRow(crm_user_id=uid, day=day, hours=round(seconds.get((uid, day), 0.0) / 3600, 2),
                         first_in=first_in[(uid, day)], last_out=last_out.get((uid, day)),
                         open=(uid, day) in still_open) for uid, day in keys]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)
