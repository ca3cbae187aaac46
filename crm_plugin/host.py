"""The host contract: everything the plugin reads or writes in the CRM, and the events the CRM sends.

A CRM that implements ``CrmGateway`` (the demo CRM in ``crm_plugin.demo.gateway`` does, over its own
tables) can run the plugin. The plugin never touches the host's tables directly.

Host events are blinker signals. The host sends them with its Flask app as the sender, the way Flask's own
signals do::

    from crm_plugin import host
    host.measurement_requested.send(current_app._get_current_object(), job_id=job.id)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from blinker import Namespace


class Role(str, enum.Enum):
    MEASURER = "measurer"
    INSTALLER = "installer"
    MANAGER = "manager"
    ADMIN = "admin"


class JobKind(str, enum.Enum):
    MEASUREMENT = "measurement"
    INSTALLATION = "installation"


class JobStatus(str, enum.Enum):
    NEW = "new"
    SCHEDULED = "scheduled"
    MEASURED = "measured"  # measured, ready for calculation
    INSTALLED = "installed"
    CANCELLED = "cancelled"


DONE_STATUSES = frozenset({JobStatus.MEASURED, JobStatus.INSTALLED})


class FileKind(str, enum.Enum):
    OBJECT_PHOTO = "object_photo"
    MEASUREMENT_SHEET = "measurement_sheet"
    INSTALLATION_PHOTO = "installation_photo"


class Metric(str, enum.Enum):
    """What statistics can ask the CRM for over a period."""

    ORDERS_CREATED = "orders_created"
    MEASUREMENTS_DONE = "measurements_done"
    INSTALLATIONS_DONE = "installations_done"
    LEADS_CREATED = "leads_created"
    REVENUE = "revenue"  # sum of order amounts, in roubles


@dataclass(frozen=True)
class User:
    id: int
    login: str
    full_name: str
    email: str | None = None
    phone: str | None = None  # as the CRM stores it; the plugin normalises it
    active: bool = True
    is_admin: bool = False
    roles: frozenset[Role] = frozenset()

    def has_role(self, role: Role) -> bool:
        return self.is_admin or role in self.roles


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    phones: tuple[str, ...] = ()
    address: str | None = None


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    order_id: int
    order_number: str
    status: JobStatus
    scheduled_at: datetime | None
    address: str
    client: Client
    latitude: float | None = None
    longitude: float | None = None
    manager_comment: str | None = None
    assignee_id: int | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class JobFile:
    id: int
    job_id: int
    order_id: int
    kind: FileKind
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class NewFile:
    kind: FileKind
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class LeadDraft:
    source: str  # e.g. "slack:#sales", "vk:club123"
    text: str
    name: str | None = None
    phone: str | None = None
    external_id: str | None = None  # the platform's message id, to avoid duplicates


@dataclass(frozen=True)
class JobQuery:
    """A filter over jobs; None means no restriction on that field."""

    assignee_id: int | None = None
    kind: JobKind | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None  # exclusive
    statuses: frozenset[JobStatus] | None = None
    unassigned_only: bool = False


@dataclass(frozen=True)
class MetricSeries:
    """A metric over a period: the total and one point per day (days with nothing are zero)."""

    metric: Metric
    start: date
    end: date  # inclusive
    total: float
    by_day: tuple[tuple[date, float], ...] = field(default=())


@runtime_checkable
class CrmGateway(Protocol):
    """What the plugin needs from the CRM. Every method is synchronous and safe to call from a worker
    thread inside an app context."""

    # users
    def current_user(self) -> User | None:
        """The CRM user logged in for the current request (admin pages check it), or None."""
        ...
    def get_user(self, user_id: int) -> User | None: ...
    def list_users(self, *, active_only: bool = True, role: Role | None = None) -> list[User]: ...
    def find_users(self, identity: str) -> list[User]:
        """Users whose login, email or phone is ``identity`` (phones compared normalised)."""
        ...
    def send_login_code(self, user_id: int, code: str) -> None:
        """Deliver a one-time binding code to the employee through the CRM (mail, SMS, CRM inbox)."""
        ...

    # jobs and their files
    def get_job(self, job_id: int) -> Job | None: ...
    def list_jobs(self, query: JobQuery) -> list[Job]: ...
    def assign_job(self, job_id: int, user_id: int) -> bool:
        """Assign an unassigned job; False when someone else already has it."""
        ...
    def set_job_status(self, job_id: int, status: JobStatus, by_user_id: int) -> None: ...
    def attach_file(self, job_id: int, file: NewFile, by_user_id: int) -> int: ...
    def list_files(self, order_id: int, kinds: frozenset[FileKind] | None = None) -> list[JobFile]: ...
    def read_file(self, file_id: int) -> bytes: ...

    # leads and statistics
    def create_lead(self, lead: LeadDraft) -> int: ...
    def metric(self, metric: Metric, start: date, end: date) -> MetricSeries: ...


signals = Namespace()

measurement_requested = signals.signal("measurement-requested", doc="kwargs: job_id")
installation_scheduled = signals.signal("installation-scheduled", doc="kwargs: job_id")
job_changed = signals.signal("job-changed", doc="kwargs: job_id, change ('rescheduled'|'reassigned'|'updated')")
job_cancelled = signals.signal("job-cancelled", doc="kwargs: job_id")
lead_created = signals.signal("lead-created", doc="kwargs: lead_id")
