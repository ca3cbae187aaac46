"""Incoming updates: stored at once (the webhook answers fast), then run through the bot by the worker.

accept() runs in the webhook request: one transaction stores the platform's dedupe key and one RECEIVED
log row per event, so a retried update hits the unique key and stores nothing twice. handle_received()
runs in the worker: the bot answers in one transaction with the row marked HANDLED.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from . import bot as conversation
from .bot.turn import Turn
from .channels import channel_for
from .channels.base import ParsedRequest
from .chat import Inbound, TextReply
from .delivery.outbox import enqueue, inbound_from_dict, log_inbound
from .extension import PluginState
from .host import LeadDraft
from .models import Bot, Direction, EmployeeLink, InboundKey, LinkStatus, Message, MessageStatus, utcnow

log = logging.getLogger(__name__)

LEAD_KIND = "lead"


def accept(state: PluginState, bot_id: int, parsed: ParsedRequest, raw: dict[str, Any] | None = None) -> bool:
    """Store a verified update; False when it is a retry of one already stored (nothing is stored then)."""
    try:
        with state.db.session() as session:
            if parsed.dedupe_key:
                session.add(InboundKey(bot_id=bot_id, dedupe_key=parsed.dedupe_key))
            for inbound in parsed.inbound:
                link = _link_of(session, bot_id, inbound)
                log_inbound(session, bot_id=bot_id, inbound=inbound, raw=raw, link_id=link.id if link else None)
            for platform_user_id in parsed.unreachable:  # e.g. Viber "unsubscribed": stop writing to them
                session.execute(update(EmployeeLink)
                                .where(EmployeeLink.bot_id == bot_id,
                                       EmployeeLink.platform_user_id == platform_user_id,
                                       EmployeeLink.status == LinkStatus.BOUND)
                                .values(status=LinkStatus.UNREACHABLE))
            leads = parsed.leads if parsed.leads and _leads_enabled(session, bot_id) else []
            for lead in leads:
                session.add(Message(
                    bot_id=bot_id, chat_id=str(lead.get("source", "")), direction=Direction.IN, kind=LEAD_KIND,
                    preview=str(lead.get("text", ""))[:500], payload={"lead": lead},
                    status=MessageStatus.RECEIVED, next_attempt_at=utcnow(),
                    platform_message_id=lead.get("external_id"),
                ))
    except IntegrityError:
        log.info("bot %s: update %s already stored, acknowledged again", bot_id, parsed.dedupe_key)
        return False
    if (parsed.inbound or parsed.leads) and state.worker is not None:
        state.worker.wake()
    return True


def handle_received(state: PluginState, message_id: int) -> None:
    """Run the bot on one stored incoming row; on a crash, mark it FAILED and tell the person."""
    try:
        with state.db.session() as session:
            message = session.get(Message, message_id)
            if message is None or message.status != MessageStatus.RECEIVED:
                return
            bot = session.get(Bot, message.bot_id)
            assert bot is not None  # rows are deleted with their bot
            if message.kind == LEAD_KIND:
                _create_lead(state, bot, message)
            else:
                _run_bot(state, session, bot, message)
            message.status = MessageStatus.HANDLED
    except Exception as error:  # noqa: BLE001 - one bad update must not stop the worker
        log.exception("bot failed on incoming message %s", message_id)
        with state.db.session() as session:
            message = session.get(Message, message_id)
            if message is not None:
                message.status = MessageStatus.FAILED
                message.error = f"{type(error).__name__}: {error}"[:2000]
                if message.kind != LEAD_KIND:
                    enqueue(session, bot_id=message.bot_id, chat_id=message.chat_id, link_id=message.link_id,
                            reply=TextReply("Не получилось обработать сообщение. Попробуйте ещё раз чуть позже."))


def _run_bot(state: PluginState, session: Any, bot: Bot, message: Message) -> None:
    inbound = inbound_from_dict(message.payload["inbound"])
    channel = channel_for(state, bot)
    channel.acknowledge(inbound)  # e.g. stop the spinner on a pressed Telegram button; best effort
    turn = Turn(session=session, gateway=state.gateway, bot=bot, inbound=inbound, settings=state.config,
                download=channel.download, now=utcnow(), link=_link_of(session, bot.id, inbound))
    conversation.handle(turn)
    if turn.link is not None:
        message.link_id = turn.link.id


def _create_lead(state: PluginState, bot: Bot, message: Message) -> None:
    lead = dict(message.payload["lead"])
    channel = channel_for(state, bot)
    profile = getattr(channel, "user_profile", None)
    if profile is not None and lead.get("user_id") and not lead.get("name"):
        details = profile(lead["user_id"])  # Slack: the author's name and email, resolved here, not in the webhook
        lead["name"] = details.get("name")
    state.gateway.create_lead(LeadDraft(
        source=str(lead.get("source", bot.platform.value)), text=str(lead.get("text", "")),
        name=lead.get("name"), phone=lead.get("phone"), external_id=lead.get("external_id"),
    ))


def _leads_enabled(session: Any, bot_id: int) -> bool:
    """Channel messages become leads only on bots where the admin switched «Заявки из каналов» on."""
    bot = session.get(Bot, bot_id)
    return bool(bot and bot.leads_enabled)


def _link_of(session: Any, bot_id: int, inbound: Inbound) -> EmployeeLink | None:
    return session.scalar(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                     EmployeeLink.platform_user_id == inbound.sender.user_id))
