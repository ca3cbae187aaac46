"""The host contract: everything the plugin reads or writes in the CRM, and the events the CRM sends.

A CRM that implements ``CrmGateway`` (the demo CRM in ``crm_plugin.demo.gateway`` does, over its own
tables) can run the plugin. The plugin never touches the host's tables directly. ``crm_plugin.testing``
holds an in-memory implementation and a contract suite a host runs against its own gateway.

Rules that hold for every method:

- **Times.** Every datetime crossing the contract is timezone-aware. The plugin passes UTC; a host may
  return any zone (the demo returns UTC). A naive datetime is an error: the plugin would read it in the
  server's zone. Days (``metric_values``) are the company's local days, in the zone the plugin knows as
  ``CRM_PLUGIN_TIMEZONE`` (the host counts its days in the same zone).
- **Transactions.** The gateway commits its own writes before the method returns, in a transaction of its
  own: the plugin calls it in the middle of a transaction on its own tables, never commits for the host,
  and a rollback on the plugin's side does not undo a host write.
- **Threads.** Methods are synchronous and are called from web requests and from worker threads (inside an
  app context, outside any request).
- **Phones** are compared as ``normalise_phone`` (re-exported here) gives them: ``+7 999 123-45-67``,
  ``8 (999) 1234567`` and ``79991234567`` are one number.

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

from .phones import normalise_phone

__all__ = [
    "DONE_STATUSES", "Aggregation", "Breakdown", "BreakdownRow", "Client", "CrmGateway", "FileKind", "Job",
    "JobFile", "JobKind", "JobOrder", "JobPage", "JobQuery", "JobStatus", "Lead", "LeadDraft", "MetricPoint", "MetricSpec", "MetricValues",
    "NewFile", "Role", "Unit", "User", "installation_scheduled", "job_cancelled", "job_changed", "lead_created",
    "measurement_requested", "normalise_phone", "signals",
]


class Role(str, enum.Enum):
    MEASURER = "measurer"
    INSTALLER = "installer"
    MANAGER = "manager"
    ADMIN = "admin"  # never in User.roles: admin rights are User.is_admin


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


class Unit(str, enum.Enum):
    """What a metric's numbers count: the plugin formats them by it (``42``, ``1 234 567 ₽``, ``12,5 %``)."""

    PIECES = "pieces"  # things counted: orders, visits, leads
    ROUBLES = "roubles"
    PERCENT = "percent"  # 12.5 means 12.5 %


class Aggregation(str, enum.Enum):
    """How a metric's figure over several days (or people) follows from theirs.

    ``SUM``: counts and money. The period's total is the sum of its days, and a breakdown's rows add up to it.
    ``MEAN``: averages and shares (the average order, a percentage). A figure over any span is computed over
    the whole span, never summed and never a plain mean of days: the average order of a week is the week's
    revenue over the week's orders. Each day and each row carries its ``weight``, what its value is averaged
    over (that day's orders for the average order, the denominator of a percentage), so the figure of any
    group of days is ``sum(value * weight) / sum(weight)`` (0 when the weights are all 0)."""

    SUM = "sum"
    MEAN = "mean"


class Breakdown(str, enum.Enum):
    """A dimension a metric can be split by. EMPLOYEE and MANAGER rows are CRM users
    (``BreakdownRow.employee_id``); LEAD_SOURCE rows are the CRM's own source names."""

    EMPLOYEE = "employee"  # the person who did the work: the measurer or installer of a done job
    MANAGER = "manager"  # the manager in charge of the order
    LEAD_SOURCE = "lead_source"  # where a lead came from: "сайт", "vk:club123", "slack:#sales"


@dataclass(frozen=True)
class User:
    """A CRM employee. ``roles`` are the field roles (measurer, installer, manager); admin rights are
    ``is_admin`` alone, and an admin counts as holding every role in ``has_role``."""

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
    """A measurement or installation visit of an order. Several jobs may share an order (and its files)."""

    id: int
    kind: JobKind
    order_id: int
    order_number: str
    status: JobStatus
    scheduled_at: datetime | None  # aware; None while the visit has no date yet
    address: str
    client: Client
    latitude: float | None = None
    longitude: float | None = None
    manager_comment: str | None = None
    assignee_id: int | None = None
    updated_at: datetime | None = None  # aware
    done_at: datetime | None = None  # aware; when it became MEASURED or INSTALLED (None while not done)


@dataclass(frozen=True)
class JobFile:
    """A file of an order. ``job_id`` is the job it was attached through (the bot counts a job's own uploads
    by it); a file the CRM keeps on the order with no job (a manager's upload) has ``job_id`` 0."""

    id: int
    job_id: int
    order_id: int
    kind: FileKind
    name: str
    content_type: str
    size: int  # bytes


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
    phone: str | None = None  # E.164 when the plugin parsed it from a channel ("+79171112233")
    external_id: str | None = None  # the platform's message id, to avoid duplicates
    email: str | None = None  # lower-cased
    source_link: str | None = None  # back to the original message, comment or post on the platform


@dataclass(frozen=True)
class Lead:
    """A lead as the CRM keeps it (``CrmGateway.get_lead``): what the «Взять» message to managers shows."""

    id: int
    source: str
    text: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    source_link: str | None = None
    manager_id: int | None = None
    # Optional: the lead's page in the CRM, an absolute http(s) URL («Открыть в CRM» on the managers' message);
    # None when the CRM has no page to link to (or no public address), and the button is left out.
    url: str | None = None


class JobOrder(str, enum.Enum):
    """The order of a job listing. Ties are broken by id, in the same direction."""

    SCHEDULED = "scheduled"  # by scheduled_at, earliest first, jobs with no date last, then id
    DONE_DESC = "done_desc"  # by done_at, newest first (the «Выполненные» list), jobs never done last, then id


@dataclass(frozen=True)
class JobQuery:
    """A filter over jobs; None means no restriction on that field. Bounds are aware datetimes compared as
    instants: ``scheduled_from <= scheduled_at < scheduled_to``; a job with no date never matches a bound.

    ``order``, ``limit`` and ``offset`` page the listing in the CRM's database, so a list the bot shows 8 at a
    time never reads a worker's whole history: ``offset`` jobs are skipped in ``order``, then at most
    ``limit`` (None: all) are returned. A negative limit or offset raises ``ValueError``."""

    assignee_id: int | None = None
    kind: JobKind | None = None
    scheduled_from: datetime | None = None  # inclusive
    scheduled_to: datetime | None = None  # exclusive
    statuses: frozenset[JobStatus] | None = None
    unassigned_only: bool = False
    order: JobOrder = JobOrder.SCHEDULED
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class JobPage:
    """One page of a listing (``CrmGateway.list_jobs_page``): its ``jobs`` and the ``total`` count of jobs
    matching the query's filter, whatever its limit and offset (the bot shows «стр. 2/5» from it)."""

    jobs: tuple[Job, ...]
    total: int


@dataclass(frozen=True)
class MetricSpec:
    """A metric the CRM offers (``CrmGateway.metrics``): the plugin shows the CRM's own figures, not a fixed set.

    ``key`` is the CRM's stable name for it (the plugin stores it in settings and schedules: keep it when the
    titles change). ``breakdowns`` are the splits ``metric_values`` accepts. ``owner`` is the breakdown whose
    person a row belongs to (EMPLOYEE: the job's measurer or installer; MANAGER: the order's manager), one of
    ``breakdowns``; a metric with an owner answers for one employee alone (``employee_id``), one without
    (company-wide figures such as leads) refuses ``employee_id``."""

    key: str
    title_ru: str
    title_en: str
    unit: Unit
    breakdowns: frozenset[Breakdown] = frozenset()
    aggregation: Aggregation = Aggregation.SUM
    owner: Breakdown | None = None

    def __post_init__(self) -> None:
        if self.owner is not None and self.owner not in self.breakdowns:
            raise ValueError(f"metric {self.key!r}: its owner {self.owner.value} is not one of its breakdowns")

    def title(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_ru


@dataclass(frozen=True)
class MetricPoint:
    """One company day of a metric. ``weight`` matters for ``Aggregation.MEAN`` only: what the day's value
    averages over (the day's orders for the average order); 0 on a day with nothing, whose value is 0."""

    day: date
    value: float
    weight: float = 0.0


@dataclass(frozen=True)
class BreakdownRow:
    """One row of a breakdown. ``label`` is the person's full name or the lead source, as the CRM shows it;
    None for the rows with no such person or source (jobs nobody was assigned, orders with no manager): the
    plugin names that row in the reader's language. ``employee_id`` is the CRM user's id on EMPLOYEE and
    MANAGER rows. ``weight`` as in MetricPoint (MEAN metrics)."""

    label: str | None
    value: float
    employee_id: int | None = None
    weight: float = 0.0


@dataclass(frozen=True)
class MetricValues:
    """A metric over a period (``CrmGateway.metric_values``): the ``total``, one point per company day from
    ``start`` to ``end`` (both inclusive, every day present, in order, zeros included) and, when a breakdown
    was asked for, its ``rows``, largest value first."""

    key: str
    start: date
    end: date
    total: float
    points: tuple[MetricPoint, ...]
    breakdown: Breakdown | None = None
    rows: tuple[BreakdownRow, ...] = field(default=())
    employee_id: int | None = None

    @property
    def by_day(self) -> dict[date, float]:
        return {point.day: point.value for point in self.points}


@runtime_checkable
class CrmGateway(Protocol):
    """What the plugin needs from the CRM (see the module's rules on times, transactions and threads).

    Unknown ids: readers return None or an empty list, ``assign_job`` returns False, and the other writers
    and ``read_file`` raise ``LookupError``."""

    # users
    def current_user(self) -> User | None:
        """The CRM user logged in to the current web request (the plugin's admin pages check it), or None.
        Outside a request (worker threads, CLI) it returns None."""
        ...

    def get_user(self, user_id: int) -> User | None:
        """The user, inactive ones included (``active=False``); None for an unknown id."""
        ...

    def list_users(self, *, active_only: bool = True, role: Role | None = None) -> list[User]:
        """Users, ordered by full name (in the CRM's collation). ``role`` keeps those whose ``roles`` hold
        it (an admin without the role is left out); ``Role.ADMIN`` keeps the ``is_admin`` users."""
        ...

    def find_users(self, identity: str) -> list[User]:
        """Users whose login or email equals ``identity`` (trimmed, case-insensitive), or whose phone is the
        same number (both sides through ``normalise_phone``), ordered by id. Inactive users are included,
        marked ``active=False``: the plugin filters them and tells the person why. Blank gives []."""
        ...

    def send_login_code(self, user_id: int, code: str) -> None:
        """Deliver a one-time binding code to the employee through the CRM (mail, SMS, CRM inbox). Returns
        once the CRM has accepted it; ``LookupError`` for an unknown user."""
        ...

    # jobs and their files
    def get_job(self, job_id: int) -> Job | None:
        """The job, whatever its status; None for an unknown id."""
        ...

    def list_jobs(self, query: JobQuery) -> list[Job]:
        """Jobs matching every field of ``query``, in ``query.order`` (by default by ``scheduled_at``, jobs
        with no date last, then id), paged by its ``limit`` and ``offset``. A naive bound or a negative limit
        or offset raises ``ValueError``."""
        ...

    def list_jobs_page(self, query: JobQuery) -> JobPage:
        """``list_jobs(query)`` and the total of jobs matching the filter (limit and offset aside), read in one
        transaction. An offset past the end gives no jobs and the total. A database host answers it with
        ``LIMIT``/``OFFSET`` and a ``COUNT`` over an index on the filter and order (the demo's: (assignee_id,
        scheduled_at, id) and (assignee_id, status, done_at, id))."""
        ...

    def assign_job(self, job_id: int, user_id: int, *, replacing: int | None = None) -> bool:
        """Give an unassigned open job (NEW or SCHEDULED) to ``user_id`` and make it SCHEDULED, atomically:
        of callers racing for one job exactly one gets True. False, with nothing changed, when the job has
        an assignee (the caller included), is done or cancelled, or does not exist. Roles are the plugin's
        business: the gateway does not check them.

        ``replacing``: reassignment (an admin in the bot). The job must be open and assigned to exactly that
        user; it passes to ``user_id`` in the same atomic way (False, nothing changed, when someone else holds
        it by now, or ``user_id`` is ``replacing``)."""
        ...

    def set_job_status(self, job_id: int, status: JobStatus, by_user_id: int) -> None:
        """Set the status (the CRM may follow with its own changes: the demo moves the order on).
        Setting the current status again is a no-op. ``LookupError`` for an unknown job; ``ValueError``,
        with nothing changed, for a forbidden change: any change of a CANCELLED job (the manager reopens it in
        the CRM), or the done status of the other kind (MEASURED is for measurements, INSTALLED for
        installations)."""
        ...

    def attach_file(self, job_id: int, file: NewFile, by_user_id: int) -> int:
        """Store the file on the job's order (``JobFile.job_id`` = ``job_id``) and return its id;
        ``LookupError`` for an unknown job."""
        ...

    def list_files(self, order_id: int, kinds: frozenset[FileKind] | None = None) -> list[JobFile]:
        """The files of an order, of all its jobs (the installer gets the measurer's sheet) and those kept on
        the order itself, in upload order (by id); ``kinds`` filters. [] for an unknown order."""
        ...

    def read_file(self, file_id: int) -> bytes:
        """The file's bytes; ``LookupError`` for an unknown id."""
        ...

    # leads and statistics
    def create_lead(self, lead: LeadDraft) -> int:
        """Store a lead and return its id. Idempotent by ``external_id``: a draft whose external_id is
        already stored (a platform retry, even a concurrent one) gives that lead's id and stores nothing.
        Drafts without an external_id are always new leads."""
        ...

    # leads from channels (issue 10): deduplication by contact, merged messages, the manager who took it
    def find_recent_lead(self, *, phone: str | None = None, email: str | None = None,
                         since: datetime) -> int | None:
        """The newest lead created at or after ``since`` (aware) whose phone equals ``phone`` (E.164, compared
        through ``normalise_phone``) or whose email equals ``email`` (case-insensitive); None when there is none
        or both are None. The plugin appends a second message from the same person to it."""
        ...

    def append_to_lead(self, lead_id: int, text: str, source_link: str | None = None, *,
                       external_id: str | None = None) -> None:
        """Add a later message (text and the link back to it) to the lead's merged messages. Idempotent by
        ``external_id``: an append whose external_id the CRM already holds (on this or any lead, or as a
        lead's own external_id) stores nothing. ``LookupError`` for an unknown lead."""
        ...

    def assign_lead(self, lead_id: int, user_id: int) -> bool:
        """Make ``user_id`` the lead's manager, atomically: of callers racing for one lead exactly one gets
        True. False, with nothing changed, when the lead has a manager already (the caller included) or does
        not exist."""
        ...

    def lead_manager(self, lead_id: int) -> int | None:
        """The user id of the lead's manager; None while nobody took it or for an unknown lead."""
        ...

    def get_lead(self, lead_id: int) -> Lead | None:
        """The lead (for the managers' message, after ``lead_created`` and after ``create_lead``: its ``url``
        links to the lead in the CRM); None for an unknown id."""
        ...

    def metrics(self) -> list[MetricSpec]:
        """The metrics the CRM offers, in the order the plugin lists them (keys unique). The plugin reads
        them whenever it builds a menu or a report, so a CRM may add metrics at any time."""
        ...

    def metric_values(self, key: str, start: date, end: date, breakdown: Breakdown | None = None, *,
                      employee_id: int | None = None) -> MetricValues:
        """The metric ``key`` over the company days ``start`` to ``end``, both inclusive.

        Days are local days in the company's zone (``CRM_PLUGIN_TIMEZONE``; a host counting in another zone
        gives the wrong days): ``end`` means up to the midnight that ends it, and a period that reaches today
        counts what is there so far. ``points`` holds every day of the period in order, 0 where nothing
        happened. The ``total`` of a SUM metric is the sum of the days; of a MEAN metric (an average or a
        percentage) it is computed over the whole period, the weighted mean of the days (see Aggregation),
        never their sum.

        ``breakdown`` (one of the spec's ``breakdowns``) adds ``rows``: one per person or source with anything
        in the period, largest value first, then by label; a SUM metric's rows add up to the total. The
        points and total are the same with or without it.

        ``employee_id`` keeps only that employee's own rows, by the spec's ``owner`` (the jobs they did, the
        orders they manage): «Мои показатели» of a measurer or installer, who never see company figures such
        as the revenue of orders that are not theirs. An unknown id gives zeros.

        ``LookupError`` for a key ``metrics()`` does not list; ``ValueError`` for a breakdown the metric does
        not support, ``employee_id`` on a metric without an owner, or ``end`` before ``start``."""
        ...


signals = Namespace()

measurement_requested = signals.signal("measurement-requested", doc="kwargs: job_id")
installation_scheduled = signals.signal("installation-scheduled", doc="kwargs: job_id")
job_changed = signals.signal("job-changed", doc="kwargs: job_id, change ('rescheduled'|'reassigned'|'updated')")
job_cancelled = signals.signal("job-cancelled", doc="kwargs: job_id")
lead_created = signals.signal("lead-created", doc="kwargs: lead_id")
