"""Which jobs each list holds. Days are the company's days (CRM_PLUGIN_TIMEZONE), not the server's.

- new: measurement requests nobody has taken yet plus the person's own jobs still NEW;
- today / tomorrow: the person's jobs of that local day (done ones too, marked), cancelled ones left out;
- upcoming: the person's open jobs from the start of today on;
- done: the person's finished jobs scheduled from local midnight 40 days ago on, the last done first.
An admin sees every worker's jobs, or one worker's when a filter is set.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ..host import CrmGateway, Job, JobKind, JobOrder, JobPage, JobQuery, JobStatus
from .access import TAKEABLE_STATUSES, Employee, can_view

DONE_DAYS = 40


class Period(StrEnum):
    """Which list; the values travel in button payloads ("list:me:today:0")."""

    NEW = "new"
    TODAY = "today"
    TOMORROW = "tomorrow"
    UPCOMING = "upcoming"
    DONE = "done"

OPEN = frozenset({JobStatus.NEW, JobStatus.SCHEDULED})
NOT_CANCELLED = frozenset(set(JobStatus) - {JobStatus.CANCELLED})
DONE_OF_KIND = {JobKind.MEASUREMENT: frozenset({JobStatus.MEASURED}),
                JobKind.INSTALLATION: frozenset({JobStatus.INSTALLED})}


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant the local ``day`` starts (DST-safe: built in the zone, then converted)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def fetch(gateway: CrmGateway, employee: Employee, kind: JobKind, period: Period, today: date, tz: ZoneInfo,
          worker_id: int | None = None, *, offset: int = 0, limit: int | None = None) -> JobPage:
    """The page of the list the bot shows and the list's total. The CRM pages and counts in its database;
    only «Новые» (own new jobs plus free requests: two queries) is merged and paged here, and it is short."""
    everyone = employee.is_admin and worker_id is None
    assignee = worker_id if employee.is_admin else employee.id
    mine = JobQuery(kind=kind, assignee_id=None if everyone else assignee)
    if period is Period.NEW:
        jobs = gateway.list_jobs(_with(mine, statuses=frozenset({JobStatus.NEW})))
        if kind is JobKind.MEASUREMENT and (everyone or not employee.is_admin):
            free = gateway.list_jobs(JobQuery(kind=kind, unassigned_only=True, statuses=TAKEABLE_STATUSES))
            jobs = _merge(jobs, free)
        visible = sorted((j for j in jobs if can_view(employee, j)), key=_order)
        end = None if limit is None else offset + limit
        return JobPage(tuple(visible[offset:end]), len(visible))
    if period in (Period.TODAY, Period.TOMORROW):
        day = today + timedelta(days=0 if period is Period.TODAY else 1)
        query = _with(mine, scheduled_from=midnight(day, tz), scheduled_to=midnight(day + timedelta(days=1), tz),
                      statuses=NOT_CANCELLED)
    elif period is Period.UPCOMING:
        query = _with(mine, scheduled_from=midnight(today, tz), statuses=OPEN)
    elif period is Period.DONE:
        query = _with(mine, scheduled_from=midnight(today - timedelta(days=DONE_DAYS), tz),
                      statuses=DONE_OF_KIND[kind], order=JobOrder.DONE_DESC)
    else:
        raise ValueError(f"unknown list {period!r}")
    page = gateway.list_jobs_page(_with(query, offset=offset, limit=limit))
    # The gateway filtered; this keeps the rule in one place should a host's filter be looser.
    return JobPage(tuple(j for j in page.jobs if can_view(employee, j)), page.total)


def _with(query: JobQuery, **changes: object) -> JobQuery:
    from dataclasses import replace

    return replace(query, **changes)  # type: ignore[arg-type]


def _merge(*lists: list[Job]) -> list[Job]:
    seen: dict[int, Job] = {}
    for jobs in lists:
        for job in jobs:
            seen.setdefault(job.id, job)
    return list(seen.values())


def _order(job: Job) -> tuple[bool, datetime, int]:
    far = datetime.max.replace(tzinfo=UTC)
    return (job.scheduled_at is None, job.scheduled_at or far, job.id)
