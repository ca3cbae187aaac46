"""What a statistics answer says, as data: one metric over a period against the previous period (its total,
the change, the top of a breakdown with each row's share, its days regrouped by week or month for a long
period), or a «Сводка» of several metrics. text.py words it, charts.py draws it.

Everything comes from the gateway (``CrmGateway.metric_values``), two calls for a metric report and one per
metric for a summary; a MEAN metric's figure over any group of days is the weighted mean the contract
defines, never a sum.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ..host import Aggregation, Breakdown, CrmGateway, MetricPoint, MetricSpec, MetricValues
from .periods import Period

TOP_ROWS = 5
WEEKS_FROM = 32  # periods of more days are drawn by week
MONTHS_FROM = 93  # and of more days than a quarter, by month


class Grouping(str, enum.Enum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday, cut to the period
    MONTH = "month"


@dataclass(frozen=True)
class Change:
    """The total against the previous period's: ``absolute`` in the metric's unit, ``percent`` relative to
    the previous total (None when that is 0: nothing to compare with)."""

    absolute: float
    percent: float | None


@dataclass(frozen=True)
class Bucket:
    """A bar of the chart: a day, a week or a month of the period (cut to it), with its figure."""

    start: date
    end: date
    value: float
    weight: float = 0.0


@dataclass(frozen=True)
class Row:
    """A row of the breakdown's top: ``share`` of the total (0..1) for SUM metrics, None for averages. A
    ``label`` of None is the row of nobody (no manager, no source); ``rest`` rows sum the others."""

    label: str | None
    value: float
    employee_id: int | None = None
    share: float | None = None
    rest: int = 0  # the number of rows summed into this one (the «Остальные» row)


@dataclass(frozen=True)
class MetricReport:
    spec: MetricSpec
    period: Period
    previous_period: Period
    total: float
    previous_total: float
    change: Change
    grouping: Grouping
    buckets: tuple[Bucket, ...]
    previous_buckets: tuple[Bucket, ...]
    breakdown: Breakdown | None = None
    rows: tuple[Row, ...] = ()  # the top rows, largest first, then the «Остальные» row when there are more
    employee_id: int | None = None  # set: «Мои показатели», this employee's own rows

    @property
    def empty(self) -> bool:
        """Nothing in either period: every figure is zero."""
        return not any(b.value for b in (*self.buckets, *self.previous_buckets)) and not self.total


@dataclass(frozen=True)
class SummaryLine:
    spec: MetricSpec
    total: float
    previous_total: float
    change: Change


@dataclass(frozen=True)
class Summary:
    """«Сводка»: the total of every metric asked for, each against its previous period."""

    period: Period
    previous_period: Period
    lines: tuple[SummaryLine, ...]
    employee_id: int | None = None

    @property
    def empty(self) -> bool:
        return all(not line.total and not line.previous_total for line in self.lines)


def change(total: float, previous: float) -> Change:
    return Change(total - previous, (total - previous) / abs(previous) * 100 if previous else None)


def figure(points: Iterable[MetricPoint | Bucket], aggregation: Aggregation) -> float:
    """The figure of a group of days: their sum, or for a MEAN metric their weighted mean."""
    pairs = [(p.value, p.weight) for p in points]
    if aggregation is Aggregation.SUM:
        return sum(v for v, _ in pairs)
    weight = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / weight if weight else 0.0


def grouping_for(period: Period) -> Grouping:
    if period.days >= MONTHS_FROM:
        return Grouping.MONTH
    return Grouping.WEEK if period.days >= WEEKS_FROM else Grouping.DAY


def regroup(points: Sequence[MetricPoint], grouping: Grouping, aggregation: Aggregation) -> tuple[Bucket, ...]:
    """The days as bars: each day, or weeks (Monday to Sunday) or months cut to the period."""
    groups: list[list[MetricPoint]] = []
    for point in points:
        if groups and _same_group(groups[-1][0].day, point.day, grouping):
            groups[-1].append(point)
        else:
            groups.append([point])
    buckets = []
    for group in groups:
        weight = sum(p.weight for p in group) if aggregation is Aggregation.MEAN else 0.0
        buckets.append(Bucket(group[0].day, group[-1].day, figure(group, aggregation), weight))
    return tuple(buckets)


def _same_group(first: date, day: date, grouping: Grouping) -> bool:
    if grouping is Grouping.DAY:
        return first == day
    if grouping is Grouping.WEEK:
        return first - timedelta(days=first.weekday()) == day - timedelta(days=day.weekday())
    return (first.year, first.month) == (day.year, day.month)


def top_rows(values: MetricValues, spec: MetricSpec, top: int = TOP_ROWS) -> tuple[Row, ...]:
    """The largest ``top`` rows with their shares; for a SUM metric with more rows, one more row summing the
    rest (an average cannot be summed: its other rows are left out)."""
    summed = spec.aggregation is Aggregation.SUM
    total = values.total

    def share(value: float) -> float | None:
        return value / total if summed and total > 0 else None

    rows = [Row(r.label, r.value, r.employee_id, share(r.value)) for r in values.rows]
    if len(rows) <= top + 1 or not summed:  # no «Остальные» row standing for a single row
        return tuple(rows[: top if not summed else top + 1])
    rest = sum(r.value for r in rows[top:])
    return (*rows[:top], Row(None, rest, None, share(rest), rest=len(rows) - top))


def _span(points: Sequence[MetricPoint], period: Period) -> list[MetricPoint]:
    return [p for p in points if period.start <= p.day <= period.end]


def build_report(gateway: CrmGateway, spec: MetricSpec, period: Period, *, breakdown: Breakdown | None = None,
                 employee_id: int | None = None, top: int = TOP_ROWS) -> MetricReport:
    """One metric over ``period``, against ``period.previous()``; ``breakdown`` adds the top rows;
    ``employee_id`` keeps that employee's own rows (a metric without an owner refuses it: ValueError)."""
    previous = period.previous()
    now = gateway.metric_values(spec.key, period.start, period.end, breakdown, employee_id=employee_id)
    before = gateway.metric_values(spec.key, previous.start, previous.end, employee_id=employee_id)
    grouping = grouping_for(period)
    return MetricReport(
        spec=spec, period=period, previous_period=previous, total=now.total, previous_total=before.total,
        change=change(now.total, before.total), grouping=grouping,
        buckets=regroup(now.points, grouping, spec.aggregation),
        previous_buckets=regroup(before.points, grouping, spec.aggregation), breakdown=breakdown,
        rows=top_rows(now, spec, top) if breakdown is not None else (), employee_id=employee_id)


def build_summary(gateway: CrmGateway, period: Period, specs: Sequence[MetricSpec] | None = None, *,
                  employee_id: int | None = None) -> Summary:
    """«Сводка» of ``specs`` (every metric the gateway has when None; the caller leaves out what a role may
    not see). With ``employee_id`` only metrics with an owner are in it, each of that employee's own rows.
    One gateway call per metric: both periods in one span (the previous one always comes first)."""
    previous = period.previous()
    chosen = list(specs) if specs is not None else gateway.metrics()
    lines = []
    for spec in chosen:
        if employee_id is not None and spec.owner is None:
            continue
        values = gateway.metric_values(spec.key, previous.start, period.end, employee_id=employee_id)
        total = figure(_span(values.points, period), spec.aggregation)
        before = figure(_span(values.points, previous), spec.aggregation)
        lines.append(SummaryLine(spec, total, before, change(total, before)))
    return Summary(period, previous, tuple(lines), employee_id)


def find_spec(gateway: CrmGateway, key: str) -> MetricSpec:
    """The gateway's metric ``key``; ``LookupError`` when it has none (a key kept in a button or a
    schedule that the CRM has since dropped)."""
    for spec in gateway.metrics():
        if spec.key == key:
            return spec
    raise LookupError(f"the CRM has no metric {key!r}")
