"""Reading and writing the plugin's tables directly in tests: a stored bot, the incoming log."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from crm_plugin import PluginState, get_state
from crm_plugin.core.models import Bot, Direction, Message, Platform


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


def configure(target: Flask | PluginState, **values: Any) -> PluginState:
    """Change the plugin's settings of a running test app (``telegram_api_url=fake.url``): the app reads its
    CRM_PLUGIN_* keys once, at init_app, as a host's app does."""
    state = target if isinstance(target, PluginState) else get_state(target)
    state.settings = state.settings.with_values(**values)
    return state
