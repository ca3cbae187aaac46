"""DemoGateway: the host contract (crm_plugin.host.CrmGateway) over the demo CRM's tables.

Each call runs in a session and transaction of its own on the demo's engine, so a call from the plugin's
worker thread never shares (or rolls back) the state of a web request, and what it writes is committed
before it returns: the demo's pages show it at once.

The reads a bot turn makes (users, jobs, a page of a list) are one statement each, built once (reads.py), on a
connection of their own (``_read``): on PostgreSQL with no BEGIN and COMMIT around the statement, so a read is
one round trip, not three.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from flask import current_app, has_app_context, has_request_context
from flask_login import current_user as login_user_proxy
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import host
from ..phones import normalise_phone
from . import metrics, reads
from . import models as m
from .timeutil import local_tz

log = logging.getLogger(__name__)

OPEN_STATUSES = (host.JobStatus.NEW, host.JobStatus.SCHEDULED)
DONE_STATUS = {host.JobKind.MEASUREMENT: host.JobStatus.MEASURED, host.JobKind.INSTALLATION: host.JobStatus.INSTALLED}


def check_transition(kind: host.JobKind, current: host.JobStatus, new: host.JobStatus) -> None:
    """The changes the contract forbids (CrmGateway.set_job_status): ValueError."""
    if current is host.JobStatus.CANCELLED:
        raise ValueError("a cancelled job stays cancelled; reopen it in the CRM")
    if new in host.DONE_STATUSES and new is not DONE_STATUS[kind]:
        raise ValueError(f"{new.value} is not a done status of a {kind.value} job")


def to_host_file(file: m.JobFile) -> host.JobFile:
    return host.JobFile(id=file.id, job_id=file.job_id, order_id=file.order_id, kind=file.kind, name=file.name,
                        content_type=file.content_type, size=file.size)


def lead_page_url(lead_id: int) -> str | None:
    """The lead's row on the demo's leads page, absolute from the public URL the demo is reached at
    (CRM_PLUGIN_PUBLIC_URL: the plugin is mounted on the same site); None without one."""
    base = current_app.config.get("CRM_PLUGIN_PUBLIC_URL") if has_app_context() else None
    return f"{str(base).rstrip('/')}/leads#lead-{lead_id}" if base else None


class DemoGateway:
    def __init__(self, db: SQLAlchemy) -> None:
        self.db = db

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.db.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for a read of one statement. On PostgreSQL in autocommit: the statement is its own
        transaction, with no BEGIN and COMMIT round trips (psycopg sets it on the client side; the pool resets
        it when the connection goes back). SQLite's driver begins no transaction for a SELECT anyway."""
        engine = self.db.engine
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    # users

    def current_user(self) -> host.User | None:
        if not has_request_context() or not login_user_proxy.is_authenticated:
            return None
        return self.get_user(int(login_user_proxy.get_id()))

    def get_user(self, user_id: int) -> host.User | None:
        with self._read() as connection:
            row = connection.execute(reads.USER_BY_ID, {"user_id": user_id}).first()
        return reads.user_of(row) if row is not None else None

    def list_users(self, *, active_only: bool = True, role: host.Role | None = None) -> list[host.User]:
        stmt = select(*reads.USER_COLUMNS).order_by(m.User.full_name)
        if active_only:
            stmt = stmt.where(m.User.active.is_(True))
        with self._read() as connection:
            users = [reads.user_of(row) for row in connection.execute(stmt)]
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
        with self._read() as connection:
            stmt = select(*reads.USER_COLUMNS).where(or_(*matches)).order_by(m.User.id)
            return [reads.user_of(row) for row in connection.execute(stmt)]

    def send_login_code(self, user_id: int, code: str) -> None:
        with self._session() as session:
            if session.get(m.User, user_id) is None:
                raise LookupError(f"no user {user_id}")  # SQLite would store it: it does not check the key
            session.add(m.LoginCode(user_id=user_id, code=code))
        log.info("login code delivered to the CRM inbox of user %s", user_id)

    # jobs and their files

    def get_job(self, job_id: int) -> host.Job | None:
        with self._read() as connection:
            row = connection.execute(reads.JOB_BY_ID, {"job_id": job_id}).first()
        return reads.job_of(row) if row is not None else None

    def list_jobs(self, query: host.JobQuery) -> list[host.Job]:
        shape, params = reads.shape_and_params(query)
        with self._read() as connection:
            return [reads.job_of(row) for row in connection.execute(reads.jobs_statement(shape), params)]

    def list_jobs_page(self, query: host.JobQuery) -> host.JobPage:
        """One page by LIMIT/OFFSET and its total by COUNT, in one statement (reads.page_statement); the
        composite indexes on demo_jobs (models.Job) serve both for a worker's lists."""
        shape, params = reads.shape_and_params(query)
        with self._read() as connection:
            rows = connection.execute(reads.page_statement(shape), params).all()
        # rows[0] always exists (the count's); a page past the end (or nothing matching) is that row alone
        return host.JobPage(tuple(reads.job_of(row) for row in rows if row[0] is not None), int(rows[0].total))

    def assign_job(self, job_id: int, user_id: int, *, replacing: int | None = None) -> bool:
        # One conditional UPDATE: of two people taking the same job at once, exactly one row update wins.
        if user_id == replacing:
            return False
        holder = m.Job.assignee_id.is_(None) if replacing is None else m.Job.assignee_id == replacing
        with self._session() as session:
            result = session.execute(
                update(m.Job)
                .where(m.Job.id == job_id, holder, m.Job.status.in_(OPEN_STATUSES))
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
                             external_id=lead.external_id, email=lead.email, source_link=lead.source_link)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            existing = self._lead_id(lead.external_id) if lead.external_id else None
            if existing is None:
                raise
            return existing  # a concurrent retry stored it first

    def _lead_id(self, external_id: str) -> int | None:
        """The lead holding this external id: as its own, or as a message appended to it."""
        with self._session() as session:
            own = session.scalar(select(m.Lead.id).where(m.Lead.external_id == external_id))
            if own is not None:
                return own
            return session.scalar(select(m.LeadNote.lead_id).where(m.LeadNote.external_id == external_id))

    # leads from channels (issue 10)

    def find_recent_lead(self, *, phone: str | None = None, email: str | None = None,
                         since: datetime) -> int | None:
        """Newest first among the window's leads with a phone or e-mail (phones compared normalised)."""
        if since.tzinfo is None:
            raise ValueError("since is a naive datetime; the host contract takes aware ones")
        phone = normalise_phone(phone) if phone else None
        email = email.strip().lower() if email else None
        if phone is None and email is None:
            return None
        stmt = (select(m.Lead.id, m.Lead.phone, m.Lead.email)
                .where(m.Lead.created_at >= since, or_(m.Lead.phone.is_not(None), m.Lead.email.is_not(None)))
                .order_by(m.Lead.created_at.desc(), m.Lead.id.desc()))
        with self._session() as session:
            for lead_id, lead_phone, lead_email in session.execute(stmt):
                if phone and normalise_phone(lead_phone) == phone or email and (lead_email or "").lower() == email:
                    return int(lead_id)
        return None

    def append_to_lead(self, lead_id: int, text: str, source_link: str | None = None, *,
                       external_id: str | None = None) -> None:
        if external_id and self._lead_id(external_id) is not None:
            return  # appended (or created) already: a retry
        try:
            with self._session() as session:
                if session.get(m.Lead, lead_id) is None:
                    raise LookupError(f"no lead {lead_id}")
                session.add(m.LeadNote(lead_id=lead_id, text=text, source_link=source_link, external_id=external_id))
        except IntegrityError:
            if external_id and self._lead_id(external_id) is not None:
                return  # a concurrent retry stored it first
            raise

    def assign_lead(self, lead_id: int, user_id: int) -> bool:
        """One conditional UPDATE: of racing callers, exactly one changes the row."""
        with self._session() as session:
            result = session.execute(update(m.Lead).where(m.Lead.id == lead_id, m.Lead.manager_id.is_(None))
                                     .values(manager_id=user_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def lead_manager(self, lead_id: int) -> int | None:
        with self._session() as session:
            return session.scalar(select(m.Lead.manager_id).where(m.Lead.id == lead_id))

    def get_lead(self, lead_id: int) -> host.Lead | None:
        with self._session() as session:
            row = session.get(m.Lead, lead_id)
            if row is None:
                return None
            return host.Lead(id=row.id, source=row.source, text=row.text, name=row.name, phone=row.phone,
                             email=row.email, source_link=row.source_link, manager_id=row.manager_id,
                             url=lead_page_url(row.id))

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
