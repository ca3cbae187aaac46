"""Statistics schedules: when each is due, and the worker's clock tasks that send due schedules and the
admin's pending instant sends.

A due time fires once however many workers run: whoever inserts its StatsRun row (unique schedule_id and
due_at) sends, in the same transaction as the messages; the others get an IntegrityError and leave it. Only
a schedule's latest due time counts: after downtime it is sent if it is less than ``CATCH_UP`` late, and
otherwise recorded as skipped (a visible run row and a log line). Due times before the schedule was last
saved do not count, so a schedule made at 09:30 for 09:00 starts tomorrow.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core.db import Database
from ..core.models import StatsRun, StatsSchedule, utcnow
from ..core.settings import Settings
from ..core.state import PluginState
from ..delivery.clock import ClockTask
from ..host import CrmGateway, Role
from ..stats.periods import Preset, preset_period
from .stats_sends import SendSpec, enqueue_plan, fan_out_pending, plan_send, recipients

log = logging.getLogger(__name__)

FREQUENCIES = ("daily", "weekly", "monthly")
PERIODS = (Preset.YESTERDAY, Preset.LAST_WEEK, Preset.LAST_MONTH, Preset.THIS_MONTH)
LAST_DAY = 0  # month_day of «последний день»
CATCH_UP = timedelta(hours=1)  # a due time missed by less is still sent; by more, skipped
LOOK_BACK_DAYS = 62  # a monthly schedule's latest due time is at most two months back
SCHEDULES_INTERVAL = 20.0  # seconds between the clock's looks at the schedules
SENDS_INTERVAL = 2.0  # and at the admin's pending «Отправить сейчас»
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_time(text: str) -> time:
    """``HH:MM`` (00:00 to 23:59); ValueError for anything else."""
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time HH:MM: {text!r}")
    return time(int(match[1]), int(match[2]))


def parse_weekdays(text: str) -> frozenset[int]:
    """``0,2,4`` (Monday is 0); ValueError for anything else."""
    days = frozenset(int(part) for part in text.split(",") if part.strip())
    if not days or not days <= set(range(7)):
        raise ValueError(f"not weekdays 0-6: {text!r}")
    return days


def fires_on(schedule: StatsSchedule, day: date) -> bool:
    if schedule.frequency == "weekly":
        return day.weekday() in parse_weekdays(schedule.weekdays)
    if schedule.frequency == "monthly":
        if schedule.month_day in (None, LAST_DAY):
            return day.day == calendar.monthrange(day.year, day.month)[1]
        return day.day == schedule.month_day
    return True


def latest_due(schedule: StatsSchedule, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The schedule's last due time at or before ``now`` (UTC), None when there is none in LOOK_BACK_DAYS."""
    at = parse_time(schedule.time)
    today = now.astimezone(tz).date()
    for back in range(LOOK_BACK_DAYS + 1):
        day = today - timedelta(days=back)
        if not fires_on(schedule, day):
            continue
        due = datetime.combine(day, at, tz).astimezone(UTC)
        if due <= now:
            return due
    return None


def schedule_spec(schedule: StatsSchedule, due: datetime, tz: ZoneInfo) -> SendSpec:
    people = frozenset(int(p) for p in schedule.people.split(",") if p.strip().isdigit())
    roles = frozenset(Role(r) for r in schedule.roles.split(",") if r.strip())
    metrics = tuple(m.strip() for m in schedule.metrics.split(",") if m.strip())
    return SendSpec(metrics, preset_period(Preset(schedule.period), due, tz), schedule.audience, roles, people,
                    schedule.skip_empty)


def run_schedules(db: Database, gateway: CrmGateway, settings: Settings, now: datetime) -> int:
    """Send (or record as skipped) each enabled schedule's latest due time not yet claimed; returns how many
    due times this call claimed."""
    tz = settings.tz
    with db.session() as session:
        schedules = list(session.scalars(select(StatsSchedule).where(StatsSchedule.enabled.is_(True))
                                         .order_by(StatsSchedule.id)))
        session.expunge_all()
    claimed = 0
    for schedule in schedules:
        try:
            claimed += _run_one(db, gateway, settings, schedule, now, tz)
        except Exception:  # one broken schedule must not stop the others
            log.exception("crm_plugin statistics: schedule %s (%s) failed", schedule.id, schedule.name)
    return claimed


def _run_one(db: Database, gateway: CrmGateway, settings: Settings, schedule: StatsSchedule, now: datetime,
             tz: ZoneInfo) -> int:
    due = latest_due(schedule, now, tz)
    if due is None or due <= max(schedule.created_at, schedule.updated_at):
        return 0
    with db.session() as session:
        if session.scalar(select(StatsRun.id).where(StatsRun.schedule_id == schedule.id, StatsRun.due_at == due)):
            return 0  # sent or skipped already, here or by another worker
    label = f"schedule {schedule.id} ({schedule.name}) due {due.astimezone(tz):%d.%m.%Y %H:%M}"
    spec = schedule_spec(schedule, due, tz)
    run = StatsRun(schedule_id=schedule.id, due_at=due, spec=spec.to_dict(), finished_at=utcnow())
    plan = None
    if now - due >= CATCH_UP:
        run.status, run.note = "skipped", f"missed by {_minutes(now - due)} min (the worker was not running)"
    else:
        with db.session() as session:
            people = recipients(session, gateway, settings, spec)
        plan = plan_send(gateway, spec, people)
        if spec.skip_empty and plan.empty:
            run.status, run.note, plan = "skipped", "every figure is zero", None
        else:
            run.status = "sent"
    try:
        with db.session() as session:
            session.add(run)
            session.flush()  # the unique (schedule_id, due_at): another worker may have claimed it first
            count = enqueue_plan(session, plan, run) if plan is not None else 0
    except IntegrityError:
        log.debug("crm_plugin statistics: %s was claimed by another worker", label)
        return 0
    if plan is None:
        log.warning("crm_plugin statistics: %s skipped: %s", label, run.note)
    else:
        log.info("crm_plugin statistics: %s sent: %d messages, %d charts", label, count, plan.charts)
    return 1


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def stats_clock_tasks(state: PluginState, now: Callable[[], datetime] = utcnow) -> list[ClockTask]:
    """The worker's statistics tasks: the admin's pending sends (often: someone watches the progress bar)
    and the schedules. Both ask the CRM, so both run in the host's context (its app context)."""

    def sends() -> None:
        with state.host_context():
            fan_out_pending(state.db, state.gateway, state.settings)

    def schedules() -> None:
        with state.host_context():
            run_schedules(state.db, state.gateway, state.settings, now())

    return [ClockTask("stats-sends", sends, SENDS_INTERVAL), ClockTask("stats-schedules", schedules,
                                                                      SCHEDULES_INTERVAL)]
