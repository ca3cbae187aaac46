"""The demo CRM's own tables: employees, clients, orders, field jobs and their files, leads, and the inbox of
login codes the CRM "delivers" to employees. Times are stored in UTC (aware datetimes)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, Numeric, String, Text, select, text
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    registry,
    relationship,
    scoped_session,
    validates,
)
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.models import UtcDateTime
from ..host import FileKind, JobKind, JobStatus, Role
from ..phones import normalise_phone


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_roles(text: str | None) -> frozenset[Role]:
    """The roles column ("installer,measurer") as roles: also read by the gateway's column selects."""
    return frozenset(Role(r) for r in (text or "").split(",") if r)


def parse_phones(text: str | None) -> tuple[str, ...]:
    """The phones column (comma-separated) as the phones, in the order stored."""
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as the enum's value in a VARCHAR: the same on SQLite and PostgreSQL, no native type to migrate.
    return Enum(cls, native_enum=False, values_callable=lambda members: [m.value for m in members], length=32)


class Base(DeclarativeBase):
    # On the registry: SQLAlchemy 2.1 refuses a per-base map once Flask-SQLAlchemy subclasses the base.
    registry = registry(type_annotation_map={datetime: UtcDateTime()})


db = SQLAlchemy(model_class=Base)


class OrderStatus(str, enum.Enum):
    NEW = "new"
    MEASUREMENT = "measurement"
    CALCULATION = "calculation"  # measured: the manager prices the windows
    INSTALLATION = "installation"
    DONE = "done"
    CANCELLED = "cancelled"


EMPLOYEE_ROLES = (Role.MEASURER, Role.INSTALLER, Role.MANAGER)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))  # as typed; shown as is
    phone_e164: Mapped[str | None] = mapped_column(String(16), index=True)  # normalised, for look-ups
    active: Mapped[bool] = mapped_column(default=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Comma-separated subset of measurer, installer, manager: a handful of fixed roles needs no join table.
    roles_text: Mapped[str] = mapped_column("roles", String(100), default="")

    @property
    def roles(self) -> frozenset[Role]:
        return parse_roles(self.roles_text)

    @roles.setter
    def roles(self, roles: frozenset[Role] | set[Role] | list[Role]) -> None:
        self.roles_text = ",".join(sorted(Role(r).value for r in roles))

    def has_role(self, role: Role | str) -> bool:
        return self.is_admin or Role(role) in self.roles

    @validates("phone")
    def _normalise_phone(self, _key: str, phone: str | None) -> str | None:
        self.phone_e164 = normalise_phone(phone)
        return phone

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __str__(self) -> str:
        return self.full_name


class Client(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "demo_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phones_text: Mapped[str] = mapped_column("phones", String(200), default="")  # comma-separated
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def phones(self) -> tuple[str, ...]:
        return parse_phones(self.phones_text)

    def __str__(self) -> str:
        return self.name


class Order(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "demo_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # З-2026-0153
    client_id: Mapped[int] = mapped_column(ForeignKey("demo_clients.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))  # roubles
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus), default=OrderStatus.NEW)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("demo_users.id"))

    client: Mapped[Client] = relationship(lazy="joined")
    manager: Mapped[User | None] = relationship()
    jobs: Mapped[list[Job]] = relationship(back_populates="order", order_by="Job.id")

    def __str__(self) -> str:
        return self.number


class Job(db.Model):  # type: ignore[name-defined,misc]
    """A measurement or an installation visit of an order."""

    __tablename__ = "demo_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind))
    order_id: Mapped[int] = mapped_column(ForeignKey("demo_orders.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.NEW)
    scheduled_at: Mapped[datetime | None] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    manager_comment: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("demo_users.id"), index=True)
    done_at: Mapped[datetime | None]  # when it became measured/installed: the statistics count by it
    cancelled_at: Mapped[datetime | None]  # when it was cancelled (set with the status): cancellations count by it
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="jobs", lazy="joined")
    assignee: Mapped[User | None] = relationship()
    files: Mapped[list[JobFile]] = relationship(back_populates="job", order_by="JobFile.id")

    # The bot's paged lists (gateway.list_jobs_page): «Предстоящие» walks (assignee_id, scheduled_at, id),
    # «Выполненные» (assignee_id, status, done_at, id) newest first. PostgreSQL needs the NULLS LAST spelled
    # in the index to read it backwards-free; SQLite has no NULLS LAST in indexes (it sorts the few rows).
    __table_args__ = (
        Index("ix_demo_jobs_assignee_scheduled", "assignee_id", "scheduled_at", "id"),
        Index("ix_demo_jobs_assignee_done_pg", "assignee_id", "status", text("done_at DESC NULLS LAST"),
              text("id DESC")).ddl_if(dialect="postgresql"),
        Index("ix_demo_jobs_assignee_done", "assignee_id", "status", "done_at", "id").ddl_if(dialect="sqlite"),
    )

    @validates("status")
    def _stamp_cancellation(self, _key: str, status: JobStatus | str) -> JobStatus:
        """Whoever cancels a job (a manager's page, the gateway, the admin) stamps the time it happened."""
        status = JobStatus(status)
        if status is not JobStatus.CANCELLED:
            self.cancelled_at = None
        elif self.cancelled_at is None:
            self.cancelled_at = utcnow()
        return status


class JobFile(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "demo_job_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("demo_jobs.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("demo_orders.id"), index=True)
    kind: Mapped[FileKind] = mapped_column(_enum(FileKind))
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("demo_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="files")
    order: Mapped[Order] = relationship()

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Lead(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "demo_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))  # "сайт", "slack:#sales", "vk:club123"
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # leads from channels (issue 10): the contact found in the text, the link back, the manager who took it
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    source_link: Mapped[str | None] = mapped_column(String(1000))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("demo_users.id"))

    manager: Mapped[User | None] = relationship(lazy="joined")
    notes: Mapped[list[LeadNote]] = relationship(order_by="LeadNote.id", lazy="selectin",
                                                 cascade="all, delete-orphan")


class LeadNote(db.Model):  # type: ignore[name-defined,misc]
    """A later message of a lead's author merged into the lead (same phone or e-mail, or a thread reply)."""

    __tablename__ = "demo_lead_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("demo_leads.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source_link: Mapped[str | None] = mapped_column(String(1000))
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginCode(db.Model):  # type: ignore[name-defined,misc]
    """A message the CRM delivered to an employee's CRM inbox: the bot's one-time binding code."""

    __tablename__ = "demo_login_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


def order_number(year: int, sequence: int) -> str:
    return f"З-{year}-{sequence:04d}"


def next_order_number(session: Session | scoped_session[Any], year: int) -> str:
    """The next number of the year: З-2026-0153 follows З-2026-0152 (the unique index stops a duplicate)."""
    prefix = order_number(year, 0)[:-4]
    last = session.scalar(select(Order.number).where(Order.number.startswith(prefix))
                          .order_by(Order.number.desc()).limit(1))
    return order_number(year, int(last[len(prefix):]) + 1 if last else 1)
