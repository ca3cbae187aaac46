"""Statistics sent to many people at once: an admin's «Отправить сейчас» and the schedules' due times.

Each recipient gets what their role may see: admins and managers the company's figures, measurers and
installers their own rows («Мои показатели»). Recipients are grouped by (metric, scope, language) and each
group's report and chart are made once, so a send to 200 people renders as many charts as there are distinct
scopes. Reports are computed in the worker (a clock task, crm_plugin.bot.stats_schedules), never on a web
request: the admin page only stores a ``pending`` StatsRun.

A run's messages are ordinary outbox rows (kind "stats"), linked to the run by StatsRunMessage; its progress
is their statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..core.chat import StatsReply
from ..core.i18n import translator
from ..core.models import (
    Bot,
    EmployeeLink,
    LinkStatus,
    Message,
    MessageStatus,
    Platform,
    StatsRun,
    StatsRunMessage,
    utcnow,
)
from ..core.settings import Settings
from ..delivery.charts import store_chart
from ..delivery.outbox import enqueue
from ..host import Breakdown, CrmGateway, MetricSpec, Role
from ..stats.access import Viewer, role_may_see, taken_away
from ..stats.charts import Chart, chart_for
from ..stats.periods import Period
from ..stats.report import build_report
from ..stats.text import report_text
from . import labels
from .payloads import Menu, button
from .recipients import language_of

log = logging.getLogger(__name__)

AUDIENCES = ("subscribers", "roles", "people")
COMPANY = None  # the scope of company-wide figures; an employee id is «Мои показатели»


@dataclass(frozen=True)
class SendSpec:
    """What a send sends and to whom: metric keys, a period, and an audience (all subscribers, people holding
    one of ``roles``, or the CRM users ``people``). ``skip_empty``: nothing goes out when every figure is 0."""

    metrics: tuple[str, ...]
    period: Period
    audience: str = "subscribers"
    roles: frozenset[Role] = frozenset()
    people: frozenset[int] = frozenset()
    skip_empty: bool = False

    def __post_init__(self) -> None:
        if self.audience not in AUDIENCES:
            raise ValueError(f"unknown audience {self.audience!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "period": self.period.token(), "audience": self.audience,
                "roles": sorted(r.value for r in self.roles), "people": sorted(self.people),
                "skip_empty": self.skip_empty}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SendSpec:
        return cls(tuple(data.get("metrics") or ()), Period.from_token(data["period"]),
                   data.get("audience", "subscribers"), frozenset(Role(r) for r in data.get("roles") or ()),
                   frozenset(int(p) for p in data.get("people") or ()), bool(data.get("skip_empty", False)))


@dataclass(frozen=True)
class Recipient:
    link_id: int
    bot_id: int
    chat_id: str
    crm_user_id: int
    language: str
    scope: int | None  # COMPANY, or the employee whose own rows they see
    metrics: tuple[str, ...] = ()  # the send's metrics this person may see


# --- what a report shows (who may see it: crm_plugin.stats.access) ---------------------------------------

def default_breakdown(spec: MetricSpec, scope: int | None) -> Breakdown | None:
    """The split shown under a company report: whose work it is, else where leads came from."""
    if scope is not COMPANY:
        return None
    if spec.owner is not None:
        return spec.owner
    return Breakdown.LEAD_SOURCE if Breakdown.LEAD_SOURCE in spec.breakdowns else None


# --- recipients -----------------------------------------------------------------------------------------

def recipients(session: Session, gateway: CrmGateway, settings: Settings, spec: SendSpec) -> list[Recipient]:
    """Bound, reachable links on active bots of active CRM users, chosen by the audience, each with the
    chosen metrics their role may see (nobody who may see none of them). The web chat's links are people
    trying the bot in the admin: only a send naming them reaches them."""
    stmt = (select(EmployeeLink, Bot.platform).join(Bot, Bot.id == EmployeeLink.bot_id)
            .where(Bot.active.is_(True), EmployeeLink.status == LinkStatus.BOUND, EmployeeLink.chat_id.is_not(None))
            .order_by(EmployeeLink.id))
    if spec.audience == "subscribers":
        stmt = stmt.where(EmployeeLink.subscribed_stats.is_(True))
    if spec.audience == "people":
        stmt = stmt.where(EmployeeLink.crm_user_id.in_(sorted(spec.people) or [-1]))
    users = {user.id: user for user in gateway.list_users(active_only=True)}
    chosen = [metric for metric in gateway.metrics() if metric.key in spec.metrics]
    denied = taken_away(session)
    found = []
    for link, platform in session.execute(stmt):
        user = users.get(link.crm_user_id)
        if user is None or (platform is Platform.WEB and spec.audience != "people"):
            continue
        viewer = Viewer.of(user, link.role_override)
        if spec.audience == "roles" and not viewer.roles & spec.roles:
            continue
        roles = viewer.rights_roles
        metrics = tuple(m.key for m in chosen if any(role_may_see(m, role, denied) for role in roles))
        if not metrics:
            continue
        assert link.chat_id is not None
        found.append(Recipient(link.id, link.bot_id, link.chat_id, link.crm_user_id, language_of(link, settings),
                               viewer.employee_id, metrics))
    return found


# --- the reports, once per (metric, scope, language) -----------------------------------------------------

@dataclass(frozen=True)
class Piece:
    """One metric's message for one scope and language, shared by everyone in that group."""

    text: str
    chart: Chart
    empty: bool


@dataclass
class Plan:
    """A send worked out: every recipient's pieces (by key) and the pieces themselves."""

    period: Period
    pieces: dict[tuple[str, int | None, str], Piece] = field(default_factory=dict)
    deliveries: list[tuple[Recipient, list[tuple[str, int | None, str]]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Every figure of every report is zero (or there is nothing to send)."""
        return all(piece.empty for piece in self.pieces.values())

    @property
    def charts(self) -> int:
        return len({piece.chart.key for piece in self.pieces.values()})

    @property
    def messages(self) -> int:
        return sum(len(keys) for _, keys in self.deliveries)


def plan_send(gateway: CrmGateway, spec: SendSpec, people: Iterable[Recipient]) -> Plan:
    """Each distinct (metric, scope, language) report and chart once; each recipient's list of them."""
    specs = {s.key: s for s in gateway.metrics()}
    missing = [key for key in spec.metrics if key not in specs]
    if missing:
        log.warning("crm_plugin statistics: the CRM no longer has the metrics %s; sent without them", missing)
    plan = Plan(spec.period)
    for person in people:
        keys = []
        for metric in (specs[key] for key in spec.metrics if key in person.metrics):
            key = (metric.key, person.scope, person.language)
            if key not in plan.pieces:
                report = build_report(gateway, metric, spec.period, breakdown=default_breakdown(metric, person.scope),
                                      employee_id=person.scope)
                plan.pieces[key] = Piece(report_text(report, person.language), chart_for(report, person.language),
                                         report.empty)
            keys.append(key)
        if keys:
            plan.deliveries.append((person, keys))
    return plan


def enqueue_plan(session: Session, plan: Plan, run: StatsRun) -> int:
    """The charts stored once each, one StatsReply per recipient and metric, each linked to ``run``."""
    stored: set[str] = set()
    message_ids = []
    menus: dict[str, tuple[Any, ...]] = {}
    for person, keys in plan.deliveries:
        if person.language not in menus:
            menus[person.language] = ((button(translator(person.language)(labels.MENU), Menu()),),)
        for key in keys:
            piece = plan.pieces[key]
            if piece.chart.key not in stored:
                store_chart(session, piece.chart)
                stored.add(piece.chart.key)
            reply = StatsReply(piece.text, piece.chart.key, menus[person.language])
            message = enqueue(session, bot_id=person.bot_id, chat_id=person.chat_id, reply=reply,
                              link_id=person.link_id)
            message_ids.append(message)
    session.flush()
    session.add_all(StatsRunMessage(run_id=run.id, message_id=m.id) for m in message_ids)
    run.recipients = len(plan.deliveries)
    run.renders = len(stored)
    return len(message_ids)


# --- instant sends: stored by the admin page, fanned out by the worker -------------------------------------

def request_send(session: Session, spec: SendSpec, requested_by: int | None) -> StatsRun:
    """The admin's «Отправить сейчас»: a pending run the worker's clock picks up."""
    run = StatsRun(schedule_id=None, due_at=None, status="pending", spec=spec.to_dict(), requested_by=requested_by)
    session.add(run)
    session.flush()
    return run


def fan_out_pending(db: Any, gateway: CrmGateway, settings: Settings) -> int:
    """Send every pending instant run; each is claimed in the transaction that enqueues its messages, so two
    workers never send one twice. Returns how many runs were sent."""
    with db.session() as session:
        pending = list(session.scalars(select(StatsRun.id).where(StatsRun.status == "pending",
                                                                 StatsRun.schedule_id.is_(None))))
    done = 0
    for run_id in pending:
        try:
            done += _fan_out(db, gateway, settings, run_id)
        except Exception as error:  # one broken send is marked failed; the others go on
            log.exception("crm_plugin statistics: send %s failed", run_id)
            with db.session() as session:
                session.execute(update(StatsRun).where(StatsRun.id == run_id, StatsRun.status == "pending")
                                .values(status="failed", note=f"{type(error).__name__}: {error}",
                                        finished_at=utcnow()))
    return done


def _fan_out(db: Any, gateway: CrmGateway, settings: Settings, run_id: int) -> int:
    with db.session() as session:
        run = session.get(StatsRun, run_id)
        if run is None or run.status != "pending":
            return 0
        spec = SendSpec.from_dict(run.spec)
        people = recipients(session, gateway, settings, spec)
    plan = plan_send(gateway, spec, people)  # outside any transaction: the gateway reads the CRM
    with db.session() as session:
        claimed = session.execute(update(StatsRun).where(StatsRun.id == run_id, StatsRun.status == "pending")
                                  .values(status="sent", finished_at=utcnow()))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return 0  # another worker sent it meanwhile
        run = session.get(StatsRun, run_id)
        assert run is not None
        count = enqueue_plan(session, plan, run)
        if not count:
            run.note = "nobody to send to"
        log.info("crm_plugin statistics: send %s queued %d messages to %d people, %d charts", run_id, count,
                 run.recipients, run.renders)
    return 1


@dataclass(frozen=True)
class Progress:
    status: str
    total: int
    queued: int
    sent: int
    failed: int
    recipients: int
    renders: int
    note: str | None

    @property
    def finished(self) -> bool:
        return self.status != "pending" and not self.queued

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "total": self.total, "queued": self.queued, "sent": self.sent,
                "failed": self.failed, "recipients": self.recipients, "renders": self.renders, "note": self.note,
                "finished": self.finished}


def progress(session: Session, run_id: int) -> Progress | None:
    """Queued (waiting or being sent), sent and failed messages of the run, from their outbox rows."""
    run = session.get(StatsRun, run_id)
    if run is None:
        return None
    counts = dict(session.execute(
        select(Message.status, func.count()).join(StatsRunMessage, StatsRunMessage.message_id == Message.id)
        .where(StatsRunMessage.run_id == run_id).group_by(Message.status)).all())
    queued = counts.get(MessageStatus.QUEUED, 0) + counts.get(MessageStatus.SENDING, 0)
    sent, failed = counts.get(MessageStatus.SENT, 0), counts.get(MessageStatus.FAILED, 0)
    return Progress(run.status, queued + sent + failed, queued, sent, failed, run.recipients, run.renders, run.note)
