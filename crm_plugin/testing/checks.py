"""Helpers of the contract suite: calls released together in threads, list_jobs checked row by row, and the
rules every metric_values answer keeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from flask import current_app, has_app_context

from ..host import Aggregation, Breakdown, CrmGateway, Job, JobQuery, MetricSpec, MetricValues
from .world import ContractWorld

T = TypeVar("T")
FAR = datetime.max.replace(tzinfo=timezone.utc)


def run_at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released together; each thread gets the caller's Flask app context."""
    app: Any = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        context: AbstractContextManager[Any] = app.app_context() if app is not None else nullcontext()
        with context:
            barrier.wait()
            try:
                results[index] = calls[index]()
            except BaseException as error:  # noqa: BLE001 - handed to the test below
                results[index] = error

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a gateway call did not return within 60 s"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def listed(gateway: CrmGateway, world: ContractWorld, **query: Any) -> list[int]:
    """The world's job ids list_jobs gives, in its order, once every job returned (a host's other rows too)
    is checked against the query and the order."""
    q = JobQuery(**query)
    jobs = gateway.list_jobs(q)
    for job in jobs:
        at = job.scheduled_at
        assert at is None or at.tzinfo is not None, f"job {job.id}: naive scheduled_at"
        assert q.assignee_id is None or job.assignee_id == q.assignee_id, f"job {job.id}: other assignee"
        assert not q.unassigned_only or job.assignee_id is None, f"job {job.id} is assigned"
        assert q.kind is None or job.kind is q.kind, f"job {job.id}: other kind"
        assert q.statuses is None or job.status in q.statuses, f"job {job.id}: other status"
        assert q.scheduled_from is None or (at is not None and at >= q.scheduled_from), f"job {job.id}: too early"
        assert q.scheduled_to is None or (at is not None and at < q.scheduled_to), f"job {job.id}: too late"
    keys = [(j.scheduled_at is None, j.scheduled_at or FAR, j.id) for j in jobs]
    assert keys == sorted(keys), "jobs are not ordered by scheduled_at (no date last), then id"
    return [j.id for j in jobs if j.id in world.job_ids]


def job_of(gateway: CrmGateway, job_id: int) -> Job:
    job = gateway.get_job(job_id)
    assert job is not None, f"get_job({job_id}) is None"
    return job


def check_metric_values(spec: MetricSpec, values: MetricValues, start: date, end: date,
                        breakdown: Breakdown | None = None, employee_id: int | None = None) -> None:
    """What every answer of ``metric_values`` holds: the call echoed, every day present in order, a total that
    follows from the days (a sum, or a weighted mean), and breakdown rows in order that add up to it."""
    what = f"{spec.key} {start}..{end}" + (f" by {breakdown.value}" if breakdown else "")
    assert (values.key, values.start, values.end) == (spec.key, start, end), f"{what}: another call's answer"
    assert (values.breakdown, values.employee_id) == (breakdown, employee_id), f"{what}: breakdown or employee"
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    assert [p.day for p in values.points] == days, f"{what}: not one point per day, in order"
    if spec.aggregation is Aggregation.SUM:
        assert values.total == pytest.approx(sum(p.value for p in values.points)), f"{what}: total is not the sum"
    else:
        assert all(p.weight >= 0 and (p.weight > 0 or p.value == 0) for p in values.points), f"{what}: weights"
        assert values.total == pytest.approx(_weighted([(p.value, p.weight) for p in values.points])), (
            f"{what}: total is not the weighted mean of the days")
    if breakdown is None:
        assert values.rows == (), f"{what}: rows without a breakdown"
        return
    people = breakdown in (Breakdown.EMPLOYEE, Breakdown.MANAGER)
    for row in values.rows:
        if people:
            assert (row.employee_id is None) == (row.label is None), f"{what}: a person row without its id"
        else:
            assert row.employee_id is None, f"{what}: a {breakdown.value} row with an employee id"
    ordered = [-row.value for row in values.rows]
    assert ordered == sorted(ordered), f"{what}: rows are not largest first"
    if spec.aggregation is Aggregation.SUM:
        assert sum(r.value for r in values.rows) == pytest.approx(values.total), f"{what}: rows do not add up"
    elif values.rows:
        assert values.total == pytest.approx(_weighted([(r.value, r.weight) for r in values.rows])), (
            f"{what}: total is not the weighted mean of the rows")


def _weighted(pairs: list[tuple[float, float]]) -> float:
    weight = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / weight if weight else 0.0
