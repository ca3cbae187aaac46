"""The demo CRM's metrics (CrmGateway.metrics / metric_values): the figures of a window company over its own
tables, counted per local day of the company's city in SQL.

Each metric is a ``Source``: the instant a row counts on, what it adds (and, for averages and shares, what
it is averaged over), its filter, and the column of each breakdown. One query per call groups the rows by
local day (and by the breakdown's column): PostgreSQL converts to the company's zone itself
(``timezone(zone, ts)``); SQLite has no zone database, so the period is cut where the zone's UTC offset
changes (daylight saving) and each piece is shifted by its fixed offset (``date(ts, '+180 minutes')``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .. import host
from . import models as m

B, Unit = host.Breakdown, host.Unit
MEAN = host.Aggregation.MEAN


@dataclass(frozen=True)
class Source:
    """Where a metric's rows come from. ``value`` is summed per group; for a MEAN metric so is ``weight``,
    and a group's figure is their quotient."""

    spec: host.MetricSpec
    table: Any  # the model counted: Order, Job or Lead
    time: Any  # the column of the instant a row counts on (aware, UTC)
    value: Any
    where: tuple[Any, ...]
    dims: dict[host.Breakdown, Any]  # the column of each breakdown (a user id, or the lead source)
    join_order: bool = False  # job metrics whose breakdown is the order's manager
    weight: Any = None


def _spec(key: str, ru: str, en: str, unit: host.Unit, owner: host.Breakdown | None,
          *others: host.Breakdown, aggregation: host.Aggregation = host.Aggregation.SUM) -> host.MetricSpec:
    breakdowns = frozenset({*others, *([owner] if owner else [])})
    return host.MetricSpec(key=key, title_ru=ru, title_en=en, unit=unit, breakdowns=breakdowns,
                           aggregation=aggregation, owner=owner)


def _done(kind: host.JobKind) -> tuple[Any, ...]:
    status = host.JobStatus.MEASURED if kind is host.JobKind.MEASUREMENT else host.JobStatus.INSTALLED
    return (m.Job.kind == kind, m.Job.status == status, m.Job.done_at.is_not(None))


NOT_CANCELLED = m.Order.status != m.OrderStatus.CANCELLED
ONE = literal(1)

SOURCES: tuple[Source, ...] = (
    Source(_spec("new_orders", "Новые заказы", "New orders", Unit.PIECES, B.MANAGER), m.Order,
           m.Order.created_at, ONE, (), {B.MANAGER: m.Order.manager_id}),
    Source(_spec("measurements_done", "Выполненные замеры", "Measurements done", Unit.PIECES, B.EMPLOYEE), m.Job,
           m.Job.done_at, ONE, _done(host.JobKind.MEASUREMENT), {B.EMPLOYEE: m.Job.assignee_id}),
    Source(_spec("installations_done", "Выполненные монтажи", "Installations done", Unit.PIECES, B.EMPLOYEE), m.Job,
           m.Job.done_at, ONE, _done(host.JobKind.INSTALLATION), {B.EMPLOYEE: m.Job.assignee_id}),
    # the sums of the orders taken, cancelled ones left out
    Source(_spec("revenue", "Выручка", "Revenue", Unit.ROUBLES, B.MANAGER), m.Order,
           m.Order.created_at, m.Order.amount, (NOT_CANCELLED,), {B.MANAGER: m.Order.manager_id}),
    Source(_spec("average_order", "Средний чек", "Average order", Unit.ROUBLES, B.MANAGER, aggregation=MEAN), m.Order,
           m.Order.created_at, m.Order.amount, (NOT_CANCELLED,), {B.MANAGER: m.Order.manager_id}, weight=ONE),
    Source(_spec("leads", "Заявки", "Leads", Unit.PIECES, None, B.LEAD_SOURCE), m.Lead,
           m.Lead.created_at, ONE, (), {B.LEAD_SOURCE: m.Lead.source}),
    Source(_spec("cancellations", "Отменённые выезды", "Cancelled visits", Unit.PIECES, B.MANAGER), m.Job,
           m.Job.cancelled_at, ONE, (m.Job.status == host.JobStatus.CANCELLED,), {B.MANAGER: m.Order.manager_id},
           join_order=True),
    # Of the orders taken on a day, the share since cancelled (a percentage: weighted by the orders).
    Source(_spec("cancel_rate", "Доля отказов", "Cancellation rate", Unit.PERCENT, B.MANAGER, aggregation=MEAN),
           m.Order, m.Order.created_at, case((m.Order.status == m.OrderStatus.CANCELLED, 100), else_=0), (),
           {B.MANAGER: m.Order.manager_id}, weight=ONE),
)
BY_KEY = {source.spec.key: source for source in SOURCES}
SPECS = [source.spec for source in SOURCES]


def source_of(key: str, breakdown: host.Breakdown | None, employee_id: int | None, start: date,
              end: date) -> Source:
    """The metric's source, once the call's arguments are checked as the contract says."""
    source = BY_KEY.get(key)
    if source is None:
        raise LookupError(f"no metric {key!r}; the demo CRM has {', '.join(BY_KEY)}")
    if breakdown is not None and breakdown not in source.spec.breakdowns:
        raise ValueError(f"metric {key!r} has no breakdown by {breakdown.value}")
    if employee_id is not None and source.spec.owner is None:
        raise ValueError(f"metric {key!r} is the company's alone: it takes no employee_id")
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    return source


# (local day, breakdown key or None, summed value, summed weight)
Row = tuple[date, Any, float, float]


def grouped_rows(session: Session, source: Source, breakdown: host.Breakdown | None, employee_id: int | None,
                 start: date, end: date, tz: ZoneInfo) -> list[Row]:
    """The metric's value (and weight) summed per local day and breakdown key, by one query per piece."""
    begin = datetime.combine(start, time.min, tzinfo=tz).astimezone(timezone.utc)
    finish = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    dim = source.dims[breakdown] if breakdown is not None else None
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        local: ColumnElement[Any] = cast(func.timezone(tz.key, source.time), Date)
        return list(_run(session, _grouped(source, local, dim, employee_id, begin, finish)))
    if dialect == "sqlite":
        rows: list[Row] = []
        for piece_begin, piece_end, minutes in offset_pieces(tz, begin, finish):
            day: ColumnElement[Any] = func.date(source.time, f"{minutes:+d} minutes")
            rows.extend(_run(session, _grouped(source, day, dim, employee_id, piece_begin, piece_end)))
        return rows
    # any other database: the rows themselves, counted by day here
    stmt = _filtered(source, select(source.time, dim if dim is not None else literal(None), source.value,
                                    source.weight if source.weight is not None else literal(0)),
                     employee_id, begin, finish)
    return [(moment.astimezone(tz).date(), key, float(value or 0), float(weight or 0))
            for moment, key, value, weight in session.execute(stmt)]


def _grouped(source: Source, day: ColumnElement[Any], dim: Any, employee_id: int | None, begin: datetime,
             finish: datetime) -> Select[Any]:
    weight = func.sum(source.weight) if source.weight is not None else literal(0)
    columns = [day.label("day"), (dim if dim is not None else literal(None)).label("dim"),
               func.sum(source.value), weight]
    stmt = _filtered(source, select(*columns), employee_id, begin, finish)
    return stmt.group_by(*([day, dim] if dim is not None else [day]))


def _filtered(source: Source, stmt: Select[Any], employee_id: int | None, begin: datetime,
              finish: datetime) -> Select[Any]:
    stmt = stmt.select_from(source.table)
    if source.join_order:
        stmt = stmt.join(m.Order, m.Order.id == m.Job.order_id)
    stmt = stmt.where(*source.where, source.time >= begin, source.time < finish)
    if employee_id is not None and source.spec.owner is not None:
        stmt = stmt.where(source.dims[source.spec.owner] == employee_id)
    return stmt


def _run(session: Session, stmt: Select[Any]) -> Iterator[Row]:
    for day, key, value, weight in session.execute(stmt):
        yield (day if isinstance(day, date) else date.fromisoformat(day)), key, float(value or 0), float(weight or 0)


def offset_pieces(tz: ZoneInfo, begin: datetime, finish: datetime) -> list[tuple[datetime, datetime, int]]:
    """[begin, finish) cut where the zone's UTC offset changes: (from, to, offset in minutes) pieces."""
    pieces: list[tuple[datetime, datetime, int]] = []
    cursor = begin
    while cursor < finish:
        offset, low, end = _offset(tz, cursor), cursor, finish
        while low < finish:  # a day at a time: offsets change at most twice a year
            high = min(low + timedelta(days=1), finish)
            last = high if high < finish else finish - timedelta(microseconds=1)
            if _offset(tz, last) != offset:
                end = _first_change(tz, low, last, offset)
                break
            low = high
        pieces.append((cursor, end, offset))
        cursor = end
    return pieces


def _offset(tz: ZoneInfo, moment: datetime) -> int:
    delta = moment.astimezone(tz).utcoffset() or timedelta(0)
    return int(delta.total_seconds() // 60)


def _first_change(tz: ZoneInfo, low: datetime, high: datetime, offset: int) -> datetime:
    """The instant the offset changes in (low, high]; zones change on a whole second."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(tz, middle) == offset:
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0) + timedelta(seconds=1)


def values(rows: Iterable[Row], source: Source, breakdown: host.Breakdown | None, employee_id: int | None,
           start: date, end: date, names: dict[int, str]) -> host.MetricValues:
    """The contract's answer from the grouped rows (summed again: a day may come in two pieces)."""
    mean = source.spec.aggregation is MEAN
    per_day: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    per_key: dict[Any, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, key, value, weight in rows:
        for bucket in (per_day[day], per_key[key]):
            bucket[0] += value
            bucket[1] += weight

    def figure(value: float, weight: float) -> float:
        return (value / weight if weight else 0.0) if mean else value

    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    points = tuple(host.MetricPoint(day, figure(*per_day[day]) if day in per_day else 0.0,
                                    per_day[day][1] if mean and day in per_day else 0.0) for day in days)
    value_sum = sum(v for v, _ in per_day.values())
    weight_sum = sum(w for _, w in per_day.values())
    rows_out: tuple[host.BreakdownRow, ...] = ()
    if breakdown is not None:
        people = breakdown in (B.EMPLOYEE, B.MANAGER)
        made = [host.BreakdownRow(label=(names.get(key) if people else key) if key is not None else None,
                                  value=figure(v, w), employee_id=key if people else None,
                                  weight=w if mean else 0.0) for key, (v, w) in per_key.items()]
        rows_out = tuple(sorted(made, key=lambda r: (-r.value, r.label is None, r.label or "")))
    return host.MetricValues(key=source.spec.key, start=start, end=end, total=figure(value_sum, weight_sum),
                             points=points, breakdown=breakdown, rows=rows_out, employee_id=employee_id)


def user_names(session: Session, rows: list[Row], breakdown: host.Breakdown | None) -> dict[int, str]:
    if breakdown not in (B.EMPLOYEE, B.MANAGER):
        return {}
    ids = {key for _, key, _, _ in rows if key is not None}
    if not ids:
        return {}
    stmt = select(m.User.id, m.User.full_name).where(m.User.id.in_(ids))
    return {user_id: name for user_id, name in session.execute(stmt)}

