"""The tab's first page: bots and their state, employees bound per bot, today's messages, the last day's
failures with their latest errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask_admin import expose
from sqlalchemy import func, select

from ..channels import platform_label
from ..core.models import Bot, Direction, EmployeeLink, LinkStatus, Message, MessageStatus
from ..web.current import get_state
from .base import PluginBaseView
from .filters import company_tz

LATEST_FAILURES = 10


class DashboardView(PluginBaseView):
    @expose("/")
    def index(self) -> Any:
        state = get_state()
        now = datetime.now(timezone.utc)
        day_start = datetime.now(company_tz()).replace(hour=0, minute=0, second=0, microsecond=0)
        since = now - timedelta(hours=24)
        with state.db.session() as session:
            bots = session.scalars(select(Bot).order_by(Bot.id)).all()
            links = {(bot_id, status): count for bot_id, status, count in session.execute(
                select(EmployeeLink.bot_id, EmployeeLink.status, func.count())
                .group_by(EmployeeLink.bot_id, EmployeeLink.status))}
            today = dict(session.execute(select(Message.direction, func.count())
                                         .where(Message.created_at >= day_start).group_by(Message.direction)).all())
            failed = select(Message).where(Message.status == MessageStatus.FAILED, Message.created_at >= since)
            failures_count = session.scalar(select(func.count()).select_from(failed.subquery()))
            failures = session.scalars(failed.order_by(Message.id.desc()).limit(LATEST_FAILURES)).all()
            queued = session.scalar(select(func.count()).select_from(Message)
                                    .where(Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING))))
        labels = {bot.platform: platform_label(bot.platform) for bot in bots}  # imports only the platforms in use
        return self.render(
            "crm_plugin/admin/dashboard.html", bots=bots, links=links, LinkStatus=LinkStatus,
            incoming_today=today.get(Direction.IN, 0), outgoing_today=today.get(Direction.OUT, 0),
            failures_count=failures_count or 0, failures=failures, queued=queued or 0,
            bot_names={bot.id: str(bot) for bot in bots}, platform_labels=labels,
            version=state.manifest.version, polling=not state.settings.public_url)
