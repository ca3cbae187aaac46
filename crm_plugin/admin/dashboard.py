"""The tab's first page: bots and their state, employees bound per bot, today's messages, the last day's
failures with their latest errors, and the coming jobs whose assignee no bot can reach (not notified)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask_admin import expose
from sqlalchemy import func, select

from ..bot.recipients import bound_links
from ..channels import platform_label
from ..core.models import Bot, Direction, EmployeeLink, LinkStatus, Message, MessageStatus
from ..host import Job, JobQuery, JobStatus
from ..web.current import get_state
from .base import PluginBaseView
from .filters import company_tz
from .labels import JOB_KIND_LABELS, TRIAL, bot_label
from .leads import counts_by_source

LATEST_FAILURES = 10
UNREACHED_DAYS = 14  # coming jobs looked at for an assignee no bot can reach
UNREACHED_SHOWN = 20
OPEN_STATUSES = frozenset({JobStatus.NEW, JobStatus.SCHEDULED})


def unreached_jobs(session: Any, now: datetime) -> list[Job]:
    """Open jobs of the coming days assigned to someone with no bound, non-trial account on an active bot:
    the bot could not tell them, so the manager has to (the dashboard warns)."""
    jobs = [job for job in get_state().gateway.list_jobs(JobQuery(
        scheduled_from=now, scheduled_to=now + timedelta(days=UNREACHED_DAYS), statuses=OPEN_STATUSES))
        if job.assignee_id is not None]
    assignees = {job.assignee_id for job in jobs if job.assignee_id is not None}
    reachable = {link.crm_user_id for link in bound_links(session, assignees)}
    missing = [job for job in jobs if job.assignee_id not in reachable]
    return sorted(missing, key=lambda job: job.scheduled_at or now)[:UNREACHED_SHOWN]


class DashboardView(PluginBaseView):
    @expose("/")
    def index(self) -> Any:
        state = get_state()
        now = datetime.now(timezone.utc)
        day_start = datetime.now(company_tz()).replace(hour=0, minute=0, second=0, microsecond=0)
        since = now - timedelta(hours=24)
        with state.db.session() as session:
            bots = session.scalars(select(Bot).order_by(Bot.id)).all()
            links: dict[tuple[int, Any], int] = {}
            for bot_id, status, trial, count in session.execute(
                    select(EmployeeLink.bot_id, EmployeeLink.status, EmployeeLink.trial, func.count())
                    .group_by(EmployeeLink.bot_id, EmployeeLink.status, EmployeeLink.trial)):
                key = (bot_id, TRIAL if trial and status is LinkStatus.BOUND else status)
                links[key] = links.get(key, 0) + count
            today = dict(session.execute(select(Message.direction, func.count())
                                         .where(Message.created_at >= day_start).group_by(Message.direction)).all())
            failed = select(Message).where(Message.status == MessageStatus.FAILED, Message.created_at >= since)
            failures_count = session.scalar(select(func.count()).select_from(failed.subquery()))
            failures = session.scalars(failed.order_by(Message.id.desc()).limit(LATEST_FAILURES)).all()
            queued = session.scalar(select(func.count()).select_from(Message)
                                    .where(Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING))))
            unreached = unreached_jobs(session, now)
            lead_counts = counts_by_source(session, state.settings, now)  # issue 10: leads per source
        labels = {bot.platform: platform_label(bot.platform) for bot in bots}  # imports only the platforms in use
        return self.render(
            "crm_plugin/admin/dashboard.html", bots=bots, links=links, LinkStatus=LinkStatus, TRIAL=TRIAL,
            incoming_today=today.get(Direction.IN, 0), outgoing_today=today.get(Direction.OUT, 0),
            failures_count=failures_count or 0, failures=failures, queued=queued or 0,
            bot_names={bot.id: bot_label(bot) for bot in bots}, platform_labels=labels,
            version=state.manifest.version, polling=not state.settings.public_url, unreached=unreached,
            kind_labels=JOB_KIND_LABELS, lead_counts=lead_counts)
