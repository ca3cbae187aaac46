"""Reading and writing the plugin's tables directly in tests: a stored bot, the incoming log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.models import Bot, Direction, Message, Platform


def add_bot(state: PluginState, platform: Platform, credentials: dict[str, Any], *,
            leads_enabled: bool = False) -> Bot:
    with state.db.session() as session:
        bot = Bot(platform=platform, name="bot", credentials_encrypted=state.secrets.seal(credentials),
                  leads_enabled=leads_enabled)
        session.add(bot)
    return bot


def incoming(state: PluginState, bot_id: int) -> list[Message]:
    with state.db.session() as session:
        return list(session.scalars(select(Message).where(Message.bot_id == bot_id, Message.direction == Direction.IN)
                                    .order_by(Message.id)))
