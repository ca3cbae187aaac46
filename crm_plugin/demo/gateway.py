"""DemoGateway: the host contract (crm_plugin.host.CrmGateway) over the demo CRM's tables.

Each call runs in a session and transaction of its own on the demo's engine, so a call from the plugin's
worker thread never shares (or rolls back) the state of a web request, and what it writes is committed
before it returns: the demo's pages show it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from flask import has_request_context
from flask_login import current_user as login_user_proxy
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import host
from ..phones import normalise_phone
from . import metrics
from . import models as m
from .timeutil import local_tz

log = logging.getLogger(__name__)

OPEN_STATUSES = (host.JobStatus.NEW, host.JobStatus.SCHEDULED)
DONE_STATUS = {host.JobKind.MEASUREMENT: host.JobStatus.MEASURED, host.JobKind.INSTALLATION: host.JobStatus.INSTALLED}


def to_host_user(user: m.User) -> host.User:
    return host.User(id=user.id, login=user.login, full_name=user.full_name, email=user.email, phone=user.phone,
                     active=user.active, is_admin=user.is_admin, roles=user.roles)


def to_host_job(job: m.Job) -> host.Job:
    client = job.order.client
    return host.Job(
        id=job.id, kind=job.kind, order_id=job.order_id, order_number=job.order.number, status=job.status,
        scheduled_at=job.scheduled_at, address=job.address,
        client=host.Client(id=client.id, name=client.name, phones=client.phones, address=client.address),
        latitude=job.latitude, longitude=job.longitude, manager_comment=job.manager_comment,
        assignee_id=job.assignee_id, updated_at=job.updated_at,
    )


def check_transition(kind: host.JobKind, current: host.JobStatus, new: host.JobStatus) -> None:
    """The changes the contract forbids (CrmGateway.set_job_status): ValueError."""
    if current is host.JobStatus.CANCELLED:
        raise ValueError("a cancelled job stays cancelled; reopen it in the CRM")
    if new in host.DONE_STATUSES and new is not DONE_STATUS[kind]:
        raise ValueError(f"{new.value} is not a done status of a {kind.value} job")


def to_host_file(file: m.JobFile) -> host.JobFile:
    return host.JobFile(id=file.id, job_id=file.job_id, order_id=file.order_id, kind=file.kind, name=file.name,
                        content_type=file.content_type, size=file.size)


class DemoGateway:
    def __init__(self, db: SQLAlchemy) -> None:
        self.db = db

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.db.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # users

    def current_user(self) -> host.User | None:
        if not has_request_context() or not login_user_proxy.is_authenticated:
            return None
        return self.get_user(int(login_user_proxy.get_id()))

    def get_user(self, user_id: int) -> host.User | None:
        with self._session() as session:
            user = session.get(m.User, user_id)
            return to_host_user(user) if user else None

    def list_users(self, *, active_only: bool = True, role: host.Role | None = None) -> list[host.User]:
        stmt = select(m.User).order_by(m.User.full_name)
        if active_only:
            stmt = stmt.where(m.User.active.is_(True))
        with self._session() as session:
            users = [to_host_user(u) for u in session.scalars(stmt)]
        if role is host.Role.ADMIN:
            return [u for u in users if u.is_admin]
        return [u for u in users if role is None or role in u.roles]

    def find_users(self, identity: str) -> list[host.User]:
        identity = identity.strip()
        if not identity:
            return []
        matches = [func.lower(m.User.login) == identity.lower(), func.lower(m.User.email) == identity.lower()]
        phone = normalise_phone(identity)
        if phone:
            matches.append(m.User.phone_e164 == phone)
        with self._session() as session:
            return [to_host_user(u) for u in session.scalars(select(m.User).where(or_(*matches)).order_by(m.User.id))]

    def send_login_code(self, user_id: int, code: str) -> None:
        with self._session() as session:
            if session.get(m.User, user_id) is None:
                raise LookupError(f"no user {user_id}")  # SQLite would store it: it does not check the key
            session.add(m.LoginCode(user_id=user_id, code=code))
        log.info("login code delivered to the CRM inbox of user %s", user_id)

    # jobs and their files

    def get_job(self, job_id: int) -> host.Job | None:
        with self._session() as session:
            job = session.get(m.Job, job_id)
            return to_host_job(job) if job else None

    def list_jobs(self, query: host.JobQuery) -> list[host.Job]:
        for bound in (query.scheduled_from, query.scheduled_to):
            if bound is not None and bound.tzinfo is None:
                raise ValueError(f"naive datetime bound {bound!r}: the contract takes aware datetimes")
        stmt = select(m.Job)
        if query.assignee_id is not None:
            stmt = stmt.where(m.Job.assignee_id == query.assignee_id)
        if query.unassigned_only:
            stmt = stmt.where(m.Job.assignee_id.is_(None))
        if query.kind is not None:
            stmt = stmt.where(m.Job.kind == query.kind)
        if query.scheduled_from is not None:
            stmt = stmt.where(m.Job.scheduled_at >= query.scheduled_from)
        if query.scheduled_to is not None:
            stmt = stmt.where(m.Job.scheduled_at < query.scheduled_to)
        if query.statuses is not None:
            stmt = stmt.where(m.Job.status.in_(list(query.statuses)))
        stmt = stmt.order_by(m.Job.scheduled_at.is_(None), m.Job.scheduled_at, m.Job.id)
        with self._session() as session:
            return [to_host_job(j) for j in session.scalars(stmt).unique()]

    def assign_job(self, job_id: int, user_id: int) -> bool:
        # One conditional UPDATE: of two people taking the same job at once, exactly one row update wins.
        with self._session() as session:
            result = session.execute(
                update(m.Job)
                .where(m.Job.id == job_id, m.Job.assignee_id.is_(None), m.Job.status.in_(OPEN_STATUSES))
                .values(assignee_id=user_id, status=host.JobStatus.SCHEDULED, updated_at=m.utcnow())
                .execution_options(synchronize_session=False))
            return result.rowcount == 1  # type: ignore[attr-defined]

    def set_job_status(self, job_id: int, status: host.JobStatus, by_user_id: int) -> None:
        with self._session() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            if job.status is status:
                return  # a retried turn: done_at keeps the day it was first done
            check_transition(job.kind, job.status, status)
            job.status = status
            job.done_at = m.utcnow() if status in host.DONE_STATUSES else None
            job.updated_at = m.utcnow()
            # The order follows its visits, so the manager sees the progress in the orders list.
            if status is host.JobStatus.MEASURED:
                job.order.status = m.OrderStatus.CALCULATION
            elif status is host.JobStatus.INSTALLED and job.kind is host.JobKind.INSTALLATION:
                job.order.status = m.OrderStatus.DONE
        log.info("job %s is %s (by user %s)", job_id, status.value, by_user_id)

    def attach_file(self, job_id: int, file: host.NewFile, by_user_id: int) -> int:
        with self._session() as session:
            job = session.get(m.Job, job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            row = m.JobFile(job_id=job.id, order_id=job.order_id, kind=file.kind, name=file.name,
                            content_type=file.content_type, size=len(file.data), data=file.data,
                            uploaded_by_id=by_user_id)
            session.add(row)
            session.flush()
            return row.id

    def list_files(self, order_id: int, kinds: frozenset[host.FileKind] | None = None) -> list[host.JobFile]:
        stmt = select(m.JobFile).where(m.JobFile.order_id == order_id).order_by(m.JobFile.id)
        if kinds is not None:
            stmt = stmt.where(m.JobFile.kind.in_(list(kinds)))
        with self._session() as session:
            return [to_host_file(f) for f in session.scalars(stmt)]

    def read_file(self, file_id: int) -> bytes:
        with self._session() as session:
            data = session.scalar(select(m.JobFile.data).where(m.JobFile.id == file_id))
        if data is None:
            raise LookupError(f"no file {file_id}")
        return bytes(data)

    # leads and statistics

    def create_lead(self, lead: host.LeadDraft) -> int:
        """The new lead's id; a draft whose external_id is already stored (a platform retry) gives that lead."""
        if lead.external_id and (existing := self._lead_id(lead.external_id)) is not None:
            return existing
        try:
            with self._session() as session:
                row = m.Lead(source=lead.source, text=lead.text, name=lead.name, phone=lead.phone,
                             external_id=lead.external_id)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            existing = self._lead_id(lead.external_id) if lead.external_id else None
            if existing is None:
                raise
            return existing  # a concurrent retry stored it first

    def _lead_id(self, external_id: str) -> int | None:
        with self._session() as session:
            return session.scalar(select(m.Lead.id).where(m.Lead.external_id == external_id))

    def metrics(self) -> list[host.MetricSpec]:
        """The window company's figures (crm_plugin.demo.metrics)."""
        return list(metrics.SPECS)

    def metric_values(self, key: str, start: date, end: date, breakdown: host.Breakdown | None = None, *,
                      employee_id: int | None = None) -> host.MetricValues:
        """Per local day of the company's city (DEMO_TIMEZONE), grouped in SQL: one query per call."""
        source = metrics.source_of(key, breakdown, employee_id, start, end)
        with self._session() as session:
            rows = metrics.grouped_rows(session, source, breakdown, employee_id, start, end, local_tz())
            names = metrics.user_names(session, rows, breakdown)
        return metrics.values(rows, source, breakdown, employee_id, start, end, names)
