"""Periods of the statistics: the named ones (Сегодня ... Год) relative to "now" in the company's zone, the
period a figure is compared with, and typed ranges such as ``01.11–15.11`` or ``1.11.26 - 15.11.26``.

Every period is a span of company days, both ends inclusive (the days the gateway counts, in
``CRM_PLUGIN_TIMEZONE``). The named periods that reach today (Сегодня, Эта неделя, Этот месяц, Квартал, Год)
end today: what has happened so far.

The previous period is the same stretch one calendar step back, so a weekday is compared with a weekday:
Сегодня with yesterday; a week's days with the same days of the week before; a month's days with the same
days of the month before (``1–15 Nov`` with ``1–15 Oct``; the last day clamped to the shorter month: March
with February); a quarter and a year likewise; a typed range with as many days right before it.
"""

from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366  # a typed range over about three years is refused


class Preset(str, enum.Enum):
    TODAY = "today"
    YESTERDAY = "yesterday"
    THIS_WEEK = "this_week"  # Monday to today
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"  # the 1st to today
    LAST_MONTH = "last_month"
    QUARTER = "quarter"  # this quarter to today
    YEAR = "year"  # this year to today


_STEP_MONTHS = {Preset.THIS_MONTH: 1, Preset.LAST_MONTH: 1, Preset.QUARTER: 3, Preset.YEAR: 12}
_STEP_DAYS = {Preset.TODAY: 1, Preset.YESTERDAY: 1, Preset.THIS_WEEK: 7, Preset.LAST_WEEK: 7}


@dataclass(frozen=True)
class Period:
    """Company days ``start`` to ``end``, both inclusive; ``preset`` names how it was chosen (None: typed)."""

    start: date
    end: date
    preset: Preset | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a period cannot end ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> Period:
        """The period this one is compared with (see the module's note): never overlapping, always before."""
        if self.preset in _STEP_MONTHS:
            months = _STEP_MONTHS[self.preset]
            start = _months_back(self.start, months)
            end = _months_back(self.end, months)
            return Period(start, max(start, end))
        step = timedelta(days=_STEP_DAYS.get(self.preset, self.days) if self.preset else self.days)
        return Period(self.start - step, self.end - step)

    def token(self) -> str:
        """A compact, stable form for button payloads and cache keys: ``20261101-20261115`` (+ ``-preset``)."""
        text = f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"
        return f"{text}-{self.preset.value}" if self.preset else text

    @classmethod
    def from_token(cls, token: str) -> Period:
        """The period ``token()`` gave; ``ValueError`` for anything else."""
        match = re.fullmatch(r"(\d{8})-(\d{8})(?:-([a-z_]+))?", token)
        if not match:
            raise ValueError(f"not a period token: {token!r}")
        start, end = (datetime.strptime(match[i], "%Y%m%d").date() for i in (1, 2))
        return cls(start, end, Preset(match[3]) if match[3] else None)


def _months_back(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def company_today(now: datetime, tz: ZoneInfo | str) -> date:
    """The company's date at the instant ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz).date()


def preset_period(preset: Preset, now: datetime, tz: ZoneInfo | str) -> Period:
    """The named period at the instant ``now``, in the company's days."""
    today = company_today(now, tz)
    if preset is Preset.TODAY:
        return Period(today, today, preset)
    if preset is Preset.YESTERDAY:
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday, preset)
    monday = today - timedelta(days=today.weekday())
    if preset is Preset.THIS_WEEK:
        return Period(monday, today, preset)
    if preset is Preset.LAST_WEEK:
        return Period(monday - timedelta(days=7), monday - timedelta(days=1), preset)
    first = today.replace(day=1)
    if preset is Preset.THIS_MONTH:
        return Period(first, today, preset)
    if preset is Preset.LAST_MONTH:
        last = first - timedelta(days=1)
        return Period(last.replace(day=1), last, preset)
    if preset is Preset.QUARTER:
        return Period(today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), today, preset)
    return Period(today.replace(month=1, day=1), today, preset)


class PeriodError(ValueError):
    """A typed period the plugin cannot use. ``code`` says why (``format``, ``date``, ``order``,
    ``too_long``, ``future``); ``text`` is what was typed, ``value`` the offending part.
    crm_plugin.stats.text words it in the reader's language."""

    def __init__(self, code: str, text: str, value: str = "") -> None:
        self.code, self.text, self.value = code, text, value
        super().__init__(f"{code}: {text!r}" + (f" ({value})" if value else ""))


_DATE = r"(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?"
_RANGE = re.compile(
    rf"^\s*(?:с|from)?\s*{_DATE}\s*(?:(?:-|–|—|\.\.|…|по|to|till|until)\s*{_DATE})?\s*\.?\s*$",
    re.IGNORECASE)


def parse_period(text: str, today: date) -> Period:
    """A typed range of company days: ``01.11–15.11``, ``01.11-15.11``, ``01.11.2026-15.11.2026``,
    ``1.11.26 - 15.11.26``, ``с 1.11 по 15.11``, or one day ``01.11``. A year left out is the one that puts
    the start on or before ``today`` (typed in January, ``15.12–10.01`` is last December to this January); a
    two-digit year is of this century. ``PeriodError`` for anything else: not a range, no such date, an end
    before the start, more than about three years, a start after today."""
    match = _RANGE.match(text.replace("\u2212", "-"))
    if not match:
        raise PeriodError("format", text)
    start_parts, end_parts = match.groups()[:3], match.groups()[3:]
    if end_parts[0] is None:
        end_parts = start_parts
    start_year, end_year = _year(start_parts[2]), _year(end_parts[2])
    start_md, end_md = _month_day(start_parts, text), _month_day(end_parts, text)
    if start_year is None and end_year is None:
        start_year = today.year if start_md <= (today.month, today.day) else today.year - 1
    if start_year is None:
        assert end_year is not None
        start_year = end_year if start_md <= end_md else end_year - 1
    if end_year is None:
        end_year = start_year if end_md >= start_md else start_year + 1
    start, end = _date(start_year, start_md, start_parts, text), _date(end_year, end_md, end_parts, text)
    if end < start:
        raise PeriodError("order", text)
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError("too_long", text)
    if start > today:
        raise PeriodError("future", text, start.isoformat())
    return Period(start, end)


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _month_day(parts: tuple[str | None, ...], text: str) -> tuple[int, int]:
    day_text, month_text = parts[0] or "", parts[1] or ""
    month, day = int(month_text), int(day_text)
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise PeriodError("date", text, f"{day_text}.{month_text}")
    return month, day


def _date(year: int, month_day: tuple[int, int], parts: tuple[str | None, ...], text: str) -> date:
    try:
        return date(year, *month_day)
    except ValueError:
        raise PeriodError("date", text, ".".join(p for p in parts if p)) from None
