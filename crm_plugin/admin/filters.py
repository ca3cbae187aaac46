"""List filters of the plugin's views: choices read from the database per request, enum values, and a period
of whole days in the company's time zone (so "today" means the office's today, not UTC's)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_admin.model.filters import BaseDateBetweenFilter

from ..web.current import get_state
from .args import parse_id
from .i18n import lazy_t

# The days a period may name: far wider than any real log or timesheet, and narrow enough that a day's
# bounds in any time zone, and a quarter after the first day, are still datetimes.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def company_tz() -> ZoneInfo:
    return get_state().settings.tz


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def in_range(*days: date) -> bool:
    """Whether every day is one a period may name (FIRST_DAY..LAST_DAY)."""
    return all(FIRST_DAY <= day <= LAST_DAY for day in days)


class LazyOptions:
    """Filter choices built when the list page renders: Flask-Admin reads options once at start-up, when
    the plugin's tables may not even exist yet."""

    def __init__(self, build: Callable[[], list[tuple[str, str]]]) -> None:
        self.build = build

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.build())


def named(flt: Any, url_name: str) -> Any:
    """Give a filter its short name in URLs (see PluginModelView.get_filter_arg)."""
    flt.url_name = url_name
    return flt


class IntChoiceFilter(FilterEqual):
    """Equals one of the choices, compared as an integer (PostgreSQL will not compare int with text)."""

    def validate(self, value: Any) -> bool:
        return parse_id(value, self.column) is not None  # "abc", "²" or 2**63 would reach the database

    def clean(self, value: Any) -> int:
        return int(value)


class EnumChoiceFilter(FilterEqual):
    def __init__(self, column: Any, name: Any, enum_class: type[enum.Enum], labels: dict[Any, Any]) -> None:
        self.enum_class = enum_class
        super().__init__(column, name, options=[(member.value, labels.get(member, member.value))
                                                for member in enum_class])

    def validate(self, value: Any) -> bool:
        return value in {member.value for member in self.enum_class}

    def clean(self, value: Any) -> enum.Enum:
        return self.enum_class(value)


class PeriodFilter(BaseSQLAFilter, BaseDateBetweenFilter):
    """From the first day's start to the end of the last day, local time; uses the column's index."""

    def __init__(self, column: Any, name: Any) -> None:
        super().__init__(column, name, data_type="daterangepicker")

    def validate(self, value: Any) -> bool:
        return bool(super().validate(value)) and in_range(*self.clean(value))  # year 9999 or 0001 would overflow

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        first, last = value
        tz = company_tz()
        column = self.get_column(alias)
        return query.filter(column >= day_start(first, tz), column < day_start(last + timedelta(days=1), tz))

    def operation(self) -> Any:
        return lazy_t("с … по")
