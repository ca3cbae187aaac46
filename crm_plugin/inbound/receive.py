"""Incoming updates: stored at once (the webhook answers fast), then run through the bot by the worker.

accept() runs in the webhook request: one transaction stores the platform's dedupe key and one RECEIVED
log row per event, so a retried update hits the unique key and stores nothing twice. handle_received()
runs in the worker: the bot answers in one transaction with the row marked HANDLED.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import bot as conversation
from ..bot.pipeline import apology
from ..bot.turn import Turn
from ..channels import channel_for
from ..channels.base import ParsedRequest, ProfileLookup
from ..core.chat import Inbound
from ..core.models import Bot, Direction, EmployeeLink, InboundKey, LinkStatus, Message, MessageStatus, utcnow
from ..core.scrub import scrub, secret_values
from ..core.state import PluginState
from ..delivery.outbox import enqueue, inbound_from_dict, log_inbound
from ..host import LeadDraft

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
    if parsed.inbound or parsed.leads:
        state.wake_worker()
    return True


def handle_received(state: PluginState, message_id: int) -> None:
    """Run the bot on one stored incoming row.

    A crash is logged here, once, with its traceback (credentials scrubbed); the row becomes FAILED and the
    person gets an apology in their language. Nothing is raised to the worker then: the row is settled. Only
    when that record itself cannot be written (the database is gone) does its error go up, with the crash as
    its context, for the worker to log and retry the row later.
    """
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
        secrets = _record_failure(state, message_id, error)
        log.error("bot failed on incoming message %s\n%s", message_id,
                  scrub("".join(traceback.format_exception(error)), secrets))


def _record_failure(state: PluginState, message_id: int, error: Exception) -> list[str]:
    """Mark the row FAILED and apologise to the person who wrote; returns the bot's secrets for scrubbing."""
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return []
        bot = session.get(Bot, message.bot_id)
        secrets = _secrets_of(state, bot) if bot is not None else []
        message.status = MessageStatus.FAILED
        message.error = scrub(f"{type(error).__name__}: {error}", secrets)[:2000]
        if message.kind == LEAD_KIND:
            return secrets
        try:
            inbound: Inbound | None = inbound_from_dict(message.payload["inbound"])
        except Exception:  # noqa: BLE001 - the stored row may be what broke the bot
            inbound = None
        if inbound is not None and inbound.sender.is_group:
            return secrets  # the bot does not talk in groups, and a group is not told about one person's crash
        link = _link_of(session, message.bot_id, inbound) if inbound is not None else None
        if link is None and message.link_id is not None:
            link = session.get(EmployeeLink, message.link_id)
        reply = apology(link.language if link else None, inbound.sender.language if inbound else None,
                        state.settings)
        enqueue(session, bot_id=message.bot_id, chat_id=message.chat_id, link_id=message.link_id, reply=reply)
        return secrets


def _secrets_of(state: PluginState, bot: Bot) -> list[str]:
    try:
        return secret_values(state.secrets.open(bot.credentials_encrypted), bot.webhook_secret)
    except Exception:  # noqa: BLE001 - undecryptable credentials: the generic token patterns still apply
        return [bot.webhook_secret] if bot.webhook_secret else []


def _run_bot(state: PluginState, session: Any, bot: Bot, message: Message) -> None:
    inbound = inbound_from_dict(message.payload["inbound"])
    channel = channel_for(state, bot)
    channel.acknowledge(inbound)  # e.g. stop the spinner on a pressed Telegram button; best effort
    turn = Turn(session=session, gateway=state.gateway, bot=bot, inbound=inbound, settings=state.settings,
                download=channel.download, now=utcnow(), link=_link_of(session, bot.id, inbound))
    conversation.handle(turn)
    if turn.link is not None:
        message.link_id = turn.link.id


def _create_lead(state: PluginState, bot: Bot, message: Message) -> None:
    lead = dict(message.payload["lead"])
    channel = channel_for(state, bot)
    if isinstance(channel, ProfileLookup) and lead.get("user_id") and not lead.get("name"):
        details = channel.user_profile(lead["user_id"])  # Slack: the author, resolved here, not in the webhook
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
