"""Who may manage the plugin: every active CRM admin, unless access is restricted to named ones."""

from __future__ import annotations

from sqlalchemy import select

from ..core.models import AccessGrant
from ..core.state import PluginState
from ..host import User


def can_manage(state: PluginState, user: User | None) -> bool:
    if user is None or not user.active or not user.is_admin:
        return False
    with state.db.session() as session:
        granted = set(session.scalars(select(AccessGrant.crm_user_id)))
    return not granted or user.id in granted
