"""InMemoryGateway: the whole host contract (crm_plugin.host.CrmGateway) over dicts behind one lock.

Unit tests of the bot run against it without booting the demo CRM: build a world with the ``add_*``
helpers, act as a logged-in admin with ``login_as``, and read back what the plugin wrote (``leads``,
``login_codes``, ``status_history``, ``attached_files``; see store.py). It passes the same contract suite
(crm_plugin.testing.contract) as the demo CRM's gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

from ..host import (
    DONE_STATUSES,
    Breakdown,
    FileKind,
    Job,
    JobFile,
    JobKind,
    JobOrder,
    JobPage,
    JobQuery,
    JobStatus,
    Lead,
    LeadDraft,
    MetricSpec,
    MetricValues,
    NewFile,
    Role,
    User,
)
from ..phones import normalise_phone
from . import metrics
from .metrics import Fact
from .store import DONE_STATUS, OPEN_STATUSES, MemoryStore, StatusChange, StoredLead, aware


class InMemoryGateway(MemoryStore):
    """A CrmGateway for tests; ``InMemoryGateway(timezone="Europe/Moscow", clock=...)``."""

    # users

    def current_user(self) -> User | None:
        """The user set by ``login_as``: a test's stand-in for the request's logged-in user."""
        with self._lock:
            return self._users.get(self._current) if self._current is not None else None

    def get_user(self, user_id: int) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def list_users(self, *, active_only: bool = True, role: Role | None = None) -> list[User]:
        with self._lock:
            users = list(self._users.values())
        users = [u for u in users if (u.active or not active_only) and _holds(u, role)]
        return sorted(users, key=lambda u: (u.full_name, u.id))

    def find_users(self, identity: str) -> list[User]:
        text = identity.strip().casefold()
        if not text:
            return []
        phone = normalise_phone(identity)
        with self._lock:
            users = list(self._users.values())
        return sorted((u for u in users if u.login.casefold() == text or (u.email or "").casefold() == text
                       or (phone is not None and normalise_phone(u.phone) == phone)), key=lambda u: u.id)

    def send_login_code(self, user_id: int, code: str) -> None:
        with self._lock:
            if user_id not in self._users:
                raise LookupError(f"no user {user_id}")
            self._codes[user_id].append(code)

    # jobs and their files

    def get_job(self, job_id: int) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else replace(job, done_at=self._done_at.get(job_id))

    def list_jobs(self, query: JobQuery) -> list[Job]:
        return list(self.list_jobs_page(query).jobs)

    def list_jobs_page(self, query: JobQuery) -> JobPage:
        aware(query.scheduled_from, "scheduled_from")
        aware(query.scheduled_to, "scheduled_to")
        check_paging(query)
        with self._lock:
            jobs = [replace(j, done_at=self._done_at.get(j.id)) for j in self._jobs.values() if _matches(j, query)]
        jobs.sort(key=_sort_key(query.order))
        end = None if query.limit is None else query.offset + query.limit
        return JobPage(tuple(jobs[query.offset:end]), len(jobs))

    def assign_job(self, job_id: int, user_id: int, *, replacing: int | None = None) -> bool:
        with self._lock:  # check and write under one lock: of racing callers exactly one wins
            job = self._jobs.get(job_id)
            if job is None or job.assignee_id != replacing or job.status not in OPEN_STATUSES or user_id == replacing:
                return False
            self._jobs[job_id] = replace(job, assignee_id=user_id, status=JobStatus.SCHEDULED,
                                         updated_at=self._now())
            return True

    def set_job_status(self, job_id: int, status: JobStatus, by_user_id: int) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            if job.status is status:
                return
            if job.status is JobStatus.CANCELLED:
                raise ValueError("a cancelled job stays cancelled; reopen it in the CRM")
            if status in DONE_STATUSES and status is not DONE_STATUS[job.kind]:
                raise ValueError(f"{status.value} is not a done status of a {job.kind.value} job")
            now = self._now()
            self._jobs[job_id] = replace(job, status=status, updated_at=now)
            self._stamp(job_id, status)
            self._history.append(StatusChange(job_id, status, by_user_id, now))

    def attach_file(self, job_id: int, file: NewFile, by_user_id: int) -> int:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            return self._store_file(job.order_id, job_id, file, by_user_id)

    def list_files(self, order_id: int, kinds: frozenset[FileKind] | None = None) -> list[JobFile]:
        with self._lock:
            files = [f.file for f in self._files.values()]
        return sorted((f for f in files if f.order_id == order_id and (kinds is None or f.kind in kinds)),
                      key=lambda f: f.id)

    def read_file(self, file_id: int) -> bytes:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise LookupError(f"no file {file_id}")
        return stored.data

    # leads and statistics

    def create_lead(self, lead: LeadDraft) -> int:
        with self._lock:
            if lead.external_id is not None and lead.external_id in self._lead_by_external:
                return self._lead_by_external[lead.external_id]
            lead_id = self._next("lead")
            self._leads[lead_id] = StoredLead(lead_id, lead, self._now())
            if lead.external_id is not None:
                self._lead_by_external[lead.external_id] = lead_id
            return lead_id

    # leads from channels (issue 10)

    def find_recent_lead(self, *, phone: str | None = None, email: str | None = None,
                         since: datetime) -> int | None:
        aware(since, "since")
        phone = normalise_phone(phone) if phone else None
        email = email.strip().casefold() if email else None
        if phone is None and email is None:
            return None
        with self._lock:
            leads = sorted(self._leads.values(), key=lambda lead: (lead.created_at, lead.id), reverse=True)
        for lead in leads:
            if lead.created_at < since:
                break
            if (phone and normalise_phone(lead.draft.phone) == phone
                    or email and (lead.draft.email or "").casefold() == email):
                return lead.id
        return None

    def append_to_lead(self, lead_id: int, text: str, source_link: str | None = None, *,
                       external_id: str | None = None) -> None:
        with self._lock:
            if lead_id not in self._leads:
                raise LookupError(f"no lead {lead_id}")
            if external_id is not None:
                if external_id in self._lead_by_external:
                    return
                self._lead_by_external[external_id] = lead_id
            self._lead_notes[lead_id].append((text, source_link, external_id))

    def assign_lead(self, lead_id: int, user_id: int) -> bool:
        with self._lock:
            if lead_id not in self._leads or lead_id in self._lead_managers:
                return False
            self._lead_managers[lead_id] = user_id
            return True

    def lead_manager(self, lead_id: int) -> int | None:
        with self._lock:
            return self._lead_managers.get(lead_id)

    def get_lead(self, lead_id: int) -> Lead | None:
        with self._lock:
            stored = self._leads.get(lead_id)
            manager = self._lead_managers.get(lead_id)
        if stored is None:
            return None
        draft = stored.draft
        return Lead(id=lead_id, source=draft.source, text=draft.text, name=draft.name, phone=draft.phone,
                    email=draft.email, source_link=draft.source_link, manager_id=manager)

    def metrics(self) -> list[MetricSpec]:
        """The window company's figures, as the demo CRM names them (crm_plugin.testing.metrics)."""
        return list(metrics.SPECS)

    def metric_values(self, key: str, start: date, end: date, breakdown: Breakdown | None = None, *,
                      employee_id: int | None = None) -> MetricValues:
        spec = metrics.check_call(key, breakdown, employee_id, start, end)
        return metrics.summarise(spec, self._facts(key), start, end, self.tz, breakdown, employee_id,
                                 self._full_name)

    def _full_name(self, user_id: int) -> str | None:
        with self._lock:
            user = self._users.get(user_id)
        return user.full_name if user else None

    def _facts(self, key: str) -> list[Fact]:
        B = Breakdown
        with self._lock:
            orders, leads = list(self._orders.values()), list(self._leads.values())
            done = [(self._jobs[job_id], at) for job_id, at in self._done_at.items()]
            cancelled = [(self._jobs[job_id], at) for job_id, at in self._cancelled_at.items()]
        manager = {order.id: order.manager_id for order in orders}
        if key in ("measurements_done", "installations_done"):
            kind = JobKind.MEASUREMENT if key == "measurements_done" else JobKind.INSTALLATION
            return [Fact(at, {B.EMPLOYEE: job.assignee_id}, 1) for job, at in done
                    if job.kind is kind and job.status is DONE_STATUS[kind]]
        if key == "cancellations":
            return [Fact(at, {B.MANAGER: manager.get(job.order_id)}, 1) for job, at in cancelled]
        if key == "leads":
            return [Fact(lead.created_at, {B.LEAD_SOURCE: lead.draft.source}, 1) for lead in leads]
        facts = []
        for order in orders:
            keys = {B.MANAGER: order.manager_id}
            if key == "new_orders":
                facts.append(Fact(order.created_at, keys, 1))
            elif key == "cancel_rate":
                facts.append(Fact(order.created_at, keys, 100 if order.cancelled else 0, 1))
            elif not order.cancelled:  # revenue, average_order: cancelled orders bring nothing
                facts.append(Fact(order.created_at, keys, order.amount, 1 if key == "average_order" else 0))
        return facts


def _holds(user: User, role: Role | None) -> bool:
    if role is None:
        return True
    return user.is_admin if role is Role.ADMIN else role in user.roles


def check_paging(query: JobQuery) -> None:
    if query.offset < 0 or (query.limit is not None and query.limit < 0):
        raise ValueError(f"negative limit or offset: {query.limit!r}, {query.offset!r}")


def _sort_key(order: JobOrder) -> Callable[[Job], tuple[object, ...]]:
    far = datetime.max.replace(tzinfo=UTC)
    if order is JobOrder.DONE_DESC:  # newest done first: negated timestamps, never-done last, then id down
        return lambda j: (j.done_at is None, -(j.done_at or far).timestamp(), -j.id)
    return lambda j: (j.scheduled_at is None, j.scheduled_at or far, j.id)


def _matches(job: Job, query: JobQuery) -> bool:
    at = job.scheduled_at
    return ((query.assignee_id is None or job.assignee_id == query.assignee_id)
            and (not query.unassigned_only or job.assignee_id is None)
            and (query.kind is None or job.kind is query.kind)
            and (query.statuses is None or job.status in query.statuses)
            and (query.scheduled_from is None or (at is not None and at >= query.scheduled_from))
            and (query.scheduled_to is None or (at is not None and at < query.scheduled_to)))
