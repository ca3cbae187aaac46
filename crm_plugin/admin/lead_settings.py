"""The bot form's lead fields (issue 10): which VK events and Slack channels make leads, and the auto-reply.
Stored in LeadSettings, one row per bot; the Slack channels offered are those conversations.list says the bot
is in (best effort: when Slack cannot be asked, the chosen ones stay offered)."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from ..channels.base import CredentialsError, SendError
from ..channels.registration import channel_for_credentials
from ..core.crypto import UnreadableCredentials
from ..core.models import VK_LEAD_EVENTS, Bot, LeadSettings, Platform
from ..core.state import PluginState

log = logging.getLogger(__name__)


def fill(form: Any, bot: Bot | None, session: Session, state: PluginState) -> None:
    """The saved settings into the form (on GET) and the Slack channels to choose from."""
    settings = session.get(LeadSettings, bot.id) if bot is not None and bot.id else None
    chosen = dict(settings.slack_channels or {}) if settings is not None else {}
    offered = dict(chosen)
    if bot is not None and bot.platform is Platform.SLACK:
        offered.update(_slack_channels(bot, state))
    form.lead_slack_channels.choices = sorted(offered.items(), key=lambda item: item[1])
    if request.method != "GET" or settings is None:
        return
    form.lead_vk_events.data = sorted(settings.vk_event_set())
    form.lead_slack_channels.data = sorted(chosen)
    form.lead_auto_reply.data = settings.auto_reply
    form.lead_auto_reply_text.data = settings.auto_reply_text or ""


def save(form: Any, bot: Bot, session: Session) -> None:
    settings = session.get(LeadSettings, bot.id) or LeadSettings(bot_id=bot.id)
    if bot.platform is Platform.VK and form.lead_vk_events.raw_data is not None:
        settings.vk_events = ",".join(e for e in VK_LEAD_EVENTS if e in (form.lead_vk_events.data or []))
    if bot.platform is Platform.SLACK:
        names = dict(form.lead_slack_channels.choices or [])
        settings.slack_channels = {str(cid): str(names.get(cid, cid)) for cid in form.lead_slack_channels.data or []}
    settings.auto_reply = bool(form.lead_auto_reply.data)
    settings.auto_reply_text = (form.lead_auto_reply_text.data or "").strip() or None
    session.add(settings)


def _slack_channels(bot: Bot, state: PluginState) -> dict[str, str]:
    try:
        channel: Any = channel_for_credentials(state, bot.platform, state.secrets.open(bot.credentials_encrypted))
        return dict(channel.lead_channels())
    except (SendError, CredentialsError, UnreadableCredentials, AttributeError) as exc:
        log.warning("bot %s: the Slack channels could not be listed: %s", bot.id, exc)
        return {}
