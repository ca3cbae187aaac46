"""The company works in one city: times are stored in UTC and shown (and typed) in DEMO_TIMEZONE."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app

DEFAULT_TIMEZONE = "Europe/Moscow"  # Казань lives on Moscow time


def local_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("DEMO_TIMEZONE") or DEFAULT_TIMEZONE)


def to_local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(local_tz()) if moment is not None else None


def from_local(naive: datetime) -> datetime:
    """A wall-clock time typed in the company's city, as an aware UTC datetime."""
    return naive.replace(tzinfo=local_tz()).astimezone(timezone.utc)


def local_day(moment: datetime) -> date:
    return moment.astimezone(local_tz()).date()


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC instants from the local midnight starting ``start`` to the one after ``end`` (exclusive)."""
    tz = local_tz()
    begin = datetime.combine(start, time.min, tzinfo=tz)
    finish = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    return begin.astimezone(timezone.utc), finish.astimezone(timezone.utc)


def format_local(moment: datetime | None, pattern: str = "%d.%m.%Y %H:%M") -> str:
    local = to_local(moment)
    return local.strftime(pattern) if local is not None else "—"
