"""MemoryStore: what the in-memory CRM holds, the helpers a test builds its world with (``add_*``,
``update_*``, ``login_as``) and the read-back of what the plugin wrote (``leads``, ``login_codes``,
``status_history``, ``attached_files``). InMemoryGateway (memory.py) puts the host contract over it."""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..host import DONE_STATUSES, Client, Job, JobFile, JobKind, JobStatus, LeadDraft, NewFile, Role, User

OPEN_STATUSES = frozenset({JobStatus.NEW, JobStatus.SCHEDULED})
DONE_STATUS = {JobKind.MEASUREMENT: JobStatus.MEASURED, JobKind.INSTALLATION: JobStatus.INSTALLED}
NO_JOB = 0  # JobFile.job_id of a file kept on the order itself


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime | None, what: str) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{what} is a naive datetime; the host contract takes aware ones")


@dataclass(frozen=True)
class StoredLead:
    id: int
    draft: LeadDraft
    created_at: datetime


@dataclass(frozen=True)
class StatusChange:
    job_id: int
    status: JobStatus
    by_user_id: int
    at: datetime


@dataclass(frozen=True)
class AttachedFile:
    file: JobFile
    data: bytes
    by_user_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class _Order:
    id: int
    number: str
    client_id: int
    amount: float
    created_at: datetime
    cancelled: bool
    manager_id: int | None = None


class MemoryStore:
    """The CRM's data behind one lock. ``timezone`` names the company's zone; ``clock`` gives "now"."""

    def __init__(self, *, timezone: str = "Europe/Moscow", clock: Callable[[], datetime] = utcnow) -> None:
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self._lock = threading.RLock()  # re-entrant: helpers build on each other
        self._ids: dict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._users: dict[int, User] = {}
        self._clients: dict[int, Client] = {}
        self._orders: dict[int, _Order] = {}
        self._jobs: dict[int, Job] = {}
        self._done_at: dict[int, datetime] = {}
        self._cancelled_at: dict[int, datetime] = {}
        self._files: dict[int, AttachedFile] = {}
        self._leads: dict[int, StoredLead] = {}
        self._lead_by_external: dict[str, int] = {}
        # leads from channels (issue 10): merged later messages (text, link, external id) and managers
        self._lead_notes: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
        self._lead_managers: dict[int, int] = {}
        self._codes: dict[int, list[str]] = defaultdict(list)
        self._history: list[StatusChange] = []
        self._current: int | None = None

    def _next(self, table: str) -> int:
        return next(self._ids[table])

    def _now(self) -> datetime:
        now = self.clock()
        aware(now, "the clock's time")
        return now

    # building a world

    def login_as(self, user_id: int | None) -> None:
        """Make ``current_user`` return this user (None: nobody is logged in)."""
        with self._lock:
            self._current = user_id

    def add_user(self, login: str, full_name: str = "", *, email: str | None = None, phone: str | None = None,
                 roles: Iterable[Role] = (), is_admin: bool = False, active: bool = True) -> User:
        role_set = frozenset(roles)
        if Role.ADMIN in role_set:
            raise ValueError("admin rights are is_admin=True, not Role.ADMIN in roles")
        with self._lock:
            user = User(id=self._next("user"), login=login, full_name=full_name or login, email=email, phone=phone,
                        active=active, is_admin=is_admin, roles=role_set)
            self._users[user.id] = user
            return user

    def update_user(self, user_id: int, **changes: Any) -> User:
        """Change fields of a user, e.g. ``update_user(7, active=False)``."""
        with self._lock:
            user = self._users[user_id] = replace(self._users[user_id], **changes)
            return user

    def add_client(self, name: str, *, phones: Iterable[str] = (), address: str | None = None) -> Client:
        with self._lock:
            client = Client(id=self._next("client"), name=name, phones=tuple(phones), address=address)
            self._clients[client.id] = client
            return client

    def add_order(self, client_id: int, *, number: str | None = None, amount: float = 0.0,
                  created_at: datetime | None = None, cancelled: bool = False,
                  manager_id: int | None = None) -> int:
        """An order (statistics: taken at ``created_at``, now by default, managed by ``manager_id``)."""
        aware(created_at, "created_at")
        with self._lock:
            if client_id not in self._clients:
                raise LookupError(f"no client {client_id}")
            order_id = self._next("order")
            self._orders[order_id] = _Order(order_id, number or f"T-{order_id:04d}", client_id, amount,
                                            created_at or self._now(), cancelled, manager_id)
            return order_id

    def add_job(self, kind: JobKind, *, order_id: int | None = None, client_id: int | None = None,
                status: JobStatus | None = None, scheduled_at: datetime | None = None,
                assignee_id: int | None = None, address: str | None = None, latitude: float | None = None,
                longitude: float | None = None, manager_comment: str | None = None,
                done_at: datetime | None = None, cancelled_at: datetime | None = None) -> Job:
        """A job of ``order_id``, or of a new order of ``client_id`` (or of a new client). The status is
        SCHEDULED when assigned, NEW otherwise; a done job counts for statistics from ``done_at`` (now), a
        cancelled one from ``cancelled_at`` (now)."""
        aware(scheduled_at, "scheduled_at")
        aware(done_at, "done_at")
        aware(cancelled_at, "cancelled_at")
        with self._lock:
            if order_id is None:
                if client_id is None:
                    client_id = self.add_client(f"Client {len(self._clients) + 1}").id
                order_id = self.add_order(client_id)
            order = self._orders[order_id]
            client = self._clients[order.client_id]
            status = status or (JobStatus.SCHEDULED if assignee_id is not None else JobStatus.NEW)
            job = Job(id=self._next("job"), kind=kind, order_id=order_id, order_number=order.number, status=status,
                      scheduled_at=scheduled_at, address=address or client.address or "", client=client,
                      latitude=latitude, longitude=longitude, manager_comment=manager_comment,
                      assignee_id=assignee_id, updated_at=self._now())
            self._jobs[job.id] = job
            if status in DONE_STATUSES:
                self._done_at[job.id] = done_at or self._now()
            if status is JobStatus.CANCELLED:
                self._cancelled_at[job.id] = cancelled_at or self._now()
            return job

    def update_job(self, job_id: int, **changes: Any) -> Job:
        """Change fields the way a manager does in the CRM (no contract rules), e.g. ``status=CANCELLED``."""
        for name in ("scheduled_at", "updated_at"):
            aware(changes.get(name), name)
        with self._lock:
            job = self._jobs[job_id] = replace(self._jobs[job_id], **changes)
            self._stamp(job_id, job.status)
            return job

    def _stamp(self, job_id: int, status: JobStatus) -> None:
        """The statistics' times of a job whose status changed: done (first time), cancelled."""
        if status not in DONE_STATUSES:
            self._done_at.pop(job_id, None)
        elif job_id not in self._done_at:
            self._done_at[job_id] = self._now()
        if status is not JobStatus.CANCELLED:
            self._cancelled_at.pop(job_id, None)
        elif job_id not in self._cancelled_at:
            self._cancelled_at[job_id] = self._now()

    def add_lead(self, source: str, *, text: str = "", created_at: datetime | None = None,
                 external_id: str | None = None) -> int:
        """A lead the CRM got (statistics: at ``created_at``, now by default)."""
        aware(created_at, "created_at")
        with self._lock:
            lead_id = self._next("lead")
            draft = LeadDraft(source=source, text=text, external_id=external_id)
            self._leads[lead_id] = StoredLead(lead_id, draft, created_at or self._now())
            if external_id is not None:
                self._lead_by_external[external_id] = lead_id
            return lead_id

    def add_order_file(self, order_id: int, file: NewFile, by_user_id: int | None = None) -> int:
        """A file kept on the order with no job (a manager's upload): listed with ``job_id`` 0."""
        with self._lock:
            if order_id not in self._orders:
                raise LookupError(f"no order {order_id}")
            return self._store_file(order_id, NO_JOB, file, by_user_id)

    def _store_file(self, order_id: int, job_id: int, file: NewFile, by_user_id: int | None) -> int:
        data = bytes(file.data)
        meta = JobFile(id=self._next("file"), job_id=job_id, order_id=order_id, kind=file.kind, name=file.name,
                       content_type=file.content_type, size=len(data))
        self._files[meta.id] = AttachedFile(meta, data, by_user_id, self._now())
        return meta.id

    # reading back what the plugin wrote

    def leads(self) -> list[StoredLead]:
        with self._lock:
            return sorted(self._leads.values(), key=lambda lead: lead.id)

    def lead_notes(self, lead_id: int) -> list[tuple[str, str | None, str | None]]:
        """The messages appended to a lead (append_to_lead): (text, source link, external id), in order."""
        with self._lock:
            return list(self._lead_notes.get(lead_id, ()))

    def login_codes(self, user_id: int) -> list[str]:
        with self._lock:
            return list(self._codes.get(user_id, ()))

    def status_history(self, job_id: int | None = None) -> list[StatusChange]:
        with self._lock:
            return [c for c in self._history if job_id is None or c.job_id == job_id]

    def attached_files(self, job_id: int) -> list[AttachedFile]:
        """The files attached through this job, with their bytes and uploader, in upload order."""
        with self._lock:
            return sorted((f for f in self._files.values() if f.file.job_id == job_id), key=lambda f: f.file.id)
