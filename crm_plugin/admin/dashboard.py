"""The tab's first page: bots and their state, bound employees, today's messages, recent failures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_admin import expose
from sqlalchemy import func, select

from ..extension import get_state
from ..models import Bot, EmployeeLink, LinkStatus, Message, MessageStatus
from .base import PluginBaseView


class DashboardView(PluginBaseView):
    @expose("/")
    def index(self) -> str:
        state = get_state()
        now = datetime.now(timezone.utc)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with state.db.session() as session:
            bots = session.scalars(select(Bot).order_by(Bot.id)).all()
            bound = dict(session.execute(
                select(EmployeeLink.bot_id, func.count()).where(EmployeeLink.status == LinkStatus.BOUND)
                .group_by(EmployeeLink.bot_id)).all())
            messages_today = session.scalar(select(func.count()).select_from(Message)
                                             .where(Message.created_at >= day_start))
            failures = session.scalars(
                select(Message).where(Message.status == MessageStatus.FAILED,
                                      Message.created_at >= now - timedelta(hours=24))
                .order_by(Message.id.desc()).limit(10)).all()
        return self.render("crm_plugin/admin/dashboard.html", bots=bots, bound=bound,
                           messages_today=messages_today, failures=failures, version=state.manifest.version)
