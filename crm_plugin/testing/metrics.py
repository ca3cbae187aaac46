"""The in-memory CRM's metrics: the same keys, titles and rules as the demo CRM's (crm_plugin.demo.metrics), so
the bot's tests ask the in-memory gateway what they would ask the demo.

A metric is a list of facts (the instant it counts on, its breakdown keys, a value and a weight) that
``metric_values`` sums per company day, as the demo does in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..host import Aggregation, Breakdown, BreakdownRow, MetricPoint, MetricSpec, MetricValues, Unit

B = Breakdown


def _spec(key: str, ru: str, en: str, unit: Unit, owner: Breakdown | None, *others: Breakdown,
          aggregation: Aggregation = Aggregation.SUM) -> MetricSpec:
    return MetricSpec(key=key, title_ru=ru, title_en=en, unit=unit,
                      breakdowns=frozenset({*others, *([owner] if owner else [])}), aggregation=aggregation,
                      owner=owner)


SPECS: tuple[MetricSpec, ...] = (
    _spec("new_orders", "Новые заказы", "New orders", Unit.PIECES, B.MANAGER),
    _spec("measurements_done", "Выполненные замеры", "Measurements done", Unit.PIECES, B.EMPLOYEE),
    _spec("installations_done", "Выполненные монтажи", "Installations done", Unit.PIECES, B.EMPLOYEE),
    _spec("revenue", "Выручка", "Revenue", Unit.ROUBLES, B.MANAGER),
    _spec("average_order", "Средний чек", "Average order", Unit.ROUBLES, B.MANAGER, aggregation=Aggregation.MEAN),
    _spec("leads", "Заявки", "Leads", Unit.PIECES, None, B.LEAD_SOURCE),
    _spec("cancellations", "Отменённые выезды", "Cancelled visits", Unit.PIECES, B.MANAGER),
    _spec("cancel_rate", "Доля отказов", "Cancellation rate", Unit.PERCENT, B.MANAGER,
          aggregation=Aggregation.MEAN),
)
BY_KEY = {spec.key: spec for spec in SPECS}


@dataclass(frozen=True)
class Fact:
    """One thing a metric counts: when, under which breakdown keys, how much (and over how many)."""

    at: datetime
    keys: dict[Breakdown, Any]
    value: float
    weight: float = 0.0


def check_call(key: str, breakdown: Breakdown | None, employee_id: int | None, start: date,
               end: date) -> MetricSpec:
    """The spec, once the call's arguments are checked as the contract says."""
    spec = BY_KEY.get(key)
    if spec is None:
        raise LookupError(f"no metric {key!r}")
    if breakdown is not None and breakdown not in spec.breakdowns:
        raise ValueError(f"metric {key!r} has no breakdown by {breakdown.value}")
    if employee_id is not None and spec.owner is None:
        raise ValueError(f"metric {key!r} is the company's alone: it takes no employee_id")
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    return spec


def summarise(spec: MetricSpec, facts: Iterable[Fact], start: date, end: date, tz: ZoneInfo,
              breakdown: Breakdown | None, employee_id: int | None,
              name_of: Callable[[int], str | None]) -> MetricValues:
    """The contract's answer over the facts: per company day, per breakdown key, the total."""
    mean = spec.aggregation is Aggregation.MEAN
    per_day: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    per_key: dict[Any, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for fact in facts:
        day = fact.at.astimezone(tz).date()
        if not start <= day <= end:
            continue
        if employee_id is not None and spec.owner is not None and fact.keys.get(spec.owner) != employee_id:
            continue
        for bucket in (per_day[day], per_key[fact.keys.get(breakdown) if breakdown else None]):
            bucket[0] += fact.value
            bucket[1] += fact.weight

    def figure(value: float, weight: float) -> float:
        return (value / weight if weight else 0.0) if mean else value

    points = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        value, weight = per_day.get(day, (0.0, 0.0))
        points.append(MetricPoint(day, figure(value, weight), weight if mean else 0.0))
    rows: list[BreakdownRow] = []
    if breakdown is not None:
        people = breakdown in (B.EMPLOYEE, B.MANAGER)
        for key, (value, weight) in per_key.items():
            label = (name_of(key) if people else str(key)) if key is not None else None
            rows.append(BreakdownRow(label, figure(value, weight), key if people else None,
                                     weight if mean else 0.0))
        rows.sort(key=lambda r: (-r.value, r.label is None, r.label or ""))
    total = figure(sum(v for v, _ in per_day.values()), sum(w for _, w in per_day.values()))
    return MetricValues(key=spec.key, start=start, end=end, total=total, points=tuple(points),
                        breakdown=breakdown, rows=tuple(rows), employee_id=employee_id)
