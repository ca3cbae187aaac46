"""Incoming updates: stored at once (the webhook answers fast), then run through the bot by the worker.

accept() runs in the webhook request: one short transaction stores the platform's dedupe key and one RECEIVED
log row per event, so a retried update hits the unique key and stores nothing twice; it reads nothing else
(the employee the row belongs to is filled in by the turn). handle_received()
runs in the worker: the bot answers in one transaction with the row marked HANDLED; what the turn needs
from the platform (a file the person sent) is fetched before that transaction opens, and what may succeed
later (a lead whose author lookup met a 5xx) is handled again by the worker with back-off.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import bot as conversation
from ..bot import host_events, lead_offers
from ..bot.pipeline import apology
from ..bot.turn import Turn
from ..channels import channel_for
from ..channels.base import ParsedRequest, SendError
from ..core.chat import Inbound, preview_text
from ..core.models import Bot, Direction, EmployeeLink, InboundKey, LinkStatus, Message, MessageStatus, utcnow
from ..core.scrub import scrub, secret_values
from ..core.state import PluginState
from ..delivery.outbox import enqueue, inbound_from_dict, log_inbound
from ..delivery.sender import RetryLater
from . import leads
from .prefetch import Prefetched, prefetch

log = logging.getLogger(__name__)

LEAD_KIND = leads.LEAD_KIND
_NOT_TURNS = (LEAD_KIND, host_events.KIND)  # incoming rows nobody wrote to the bot


def accept(state: PluginState, bot_id: int, parsed: ParsedRequest, raw: dict[str, Any] | None = None) -> bool:
    """Store a verified update; False when it is a retry of one already stored (nothing is stored then)."""
    try:
        with state.db.session(urgent=True) as session:  # the platform waits for the answer
            if parsed.dedupe_key:
                session.add(InboundKey(bot_id=bot_id, dedupe_key=parsed.dedupe_key))
            selected = leads.select_leads(session, bot_id, parsed.leads)
            for inbound in [] if selected.instead_of_turn else parsed.inbound:  # a customer's message: a lead
                log_inbound(session, bot_id=bot_id, inbound=inbound, raw=raw)  # the turn fills in link_id
            for platform_user_id in parsed.unreachable:  # e.g. Viber "unsubscribed": stop writing to them
                session.execute(update(EmployeeLink)
                                .where(EmployeeLink.bot_id == bot_id,
                                       EmployeeLink.platform_user_id == platform_user_id,
                                       EmployeeLink.status == LinkStatus.BOUND)
                                .values(status=LinkStatus.UNREACHABLE))
            for lead in selected.leads:
                session.add(Message(
                    bot_id=bot_id, chat_id=leads.chat_of(lead), direction=Direction.IN, kind=LEAD_KIND,
                    preview=preview_text(str(lead.get("text", ""))), payload={"lead": lead, "raw": raw or {}},
                    status=MessageStatus.RECEIVED, next_attempt_at=utcnow(),
                    platform_message_id=lead.get("external_id"),
                ))
    except IntegrityError:
        log.info("bot %s: update %s already stored, acknowledged again", bot_id, parsed.dedupe_key)
        return False
    if parsed.inbound or parsed.leads:
        state.wake_worker()
    return True


def handle_received(state: PluginState, message_id: int) -> bool:
    """Do the work of one stored incoming row: the bot's turn, a lead for the CRM, or a stored host event.
    True when the row was settled (HANDLED or FAILED, its claim let go) in the work's own transaction; False when
    there was nothing to do (settled meanwhile).

    Platform calls run with no transaction open: a file the person sent is downloaded before the turn's
    transaction (inbound.prefetch), a lead's author is looked up and the lead written to the CRM before the
    row is marked HANDLED (the CRM keeps a lead once per external id, so a repeat stores nothing twice).

    Work that may succeed later goes up to the worker, which handles the row again with back-off
    (delivery.sender): a transient platform error (5xx, 429, time-out, a dropped connection) on the way, and
    for a lead or a host event any error but a permanent one (a 4xx, a ValueError of the CRM's gateway).
    Anything else is logged here, once, with its traceback (credentials scrubbed), and the row becomes FAILED,
    where the admin can send it again; a person whose message crashed the bot gets an apology in their
    language. Only when that record itself cannot be written (the database is gone) does its error go up.
    """
    kind: str | None = None
    last_try = False
    try:
        pending = _pending(state, message_id)
        if pending is None:
            return False
        message, bot = pending
        kind = message.kind
        last_try = message.attempts + 1 >= state.settings.send_max_attempts
        if kind == LEAD_KIND:  # no transaction of ours open meanwhile
            outcome = leads.work(state, bot, message, channel_for(state, bot), last_try=last_try)
            with state.db.session() as session:
                row = session.get(Message, message_id)
                if row is not None and row.status == MessageStatus.RECEIVED:
                    result = outcome.result()
                    row.payload = {**row.payload, "result": result}  # the parsed fields, for the admin's view
                    lead_offers.after_lead(state, session, bot, row.payload["lead"], result)
                return _settle(session, message_id, outcome.note)
        prefetched = None
        if kind != host_events.KIND:
            inbound = inbound_from_dict(message.payload["inbound"])
            prefetched = prefetch(state, channel_for(state, bot), bot.id, inbound, raise_transient=not last_try)
        with state.db.session() as session:
            row = session.get(Message, message_id)
            if row is None or row.status != MessageStatus.RECEIVED:
                return False  # settled meanwhile
            if prefetched is None:
                host_events.handle(state, session, row)
            else:
                _run_bot(state, session, bot, row, prefetched)
            row.status = MessageStatus.HANDLED  # its error, if the work noted one, stays for the admin
            row.claimed_by = row.claimed_until = None
            return True
    except Exception as error:  # noqa: BLE001 - one bad update must not stop the worker
        if _again(kind, error, last_try):
            raise
        secrets = _record_failure(state, message_id, error)
        log.error("bot failed on incoming message %s\n%s", message_id,
                  scrub("".join(traceback.format_exception(error)), secrets))
        return True


# What the CRM's gateway (or a stored row) raises for work that cannot succeed however often it is tried.
PERMANENT_ERRORS = (ValueError, TypeError, LookupError)


def _again(kind: str | None, error: Exception, last_try: bool) -> bool:
    """Whether the worker should handle the row again (after a back-off) instead of it failing now."""
    if isinstance(error, RetryLater):
        return True
    if isinstance(error, SendError):
        return not error.permanent and not (last_try and kind not in _NOT_TURNS)
    if kind in _NOT_TURNS:  # a lead or a host event: the CRM's database away for a moment, say
        return not isinstance(error, PERMANENT_ERRORS)
    return False  # the bot's own failure: the person is told at once


def _pending(state: PluginState, message_id: int) -> tuple[Message, Bot] | None:
    """The row and its bot when the row still waits for its work (a short read; the objects stay usable)."""
    with state.db.read() as session:
        message = session.get(Message, message_id)
        if message is None or message.status != MessageStatus.RECEIVED:
            return None
        bot = session.get(Bot, message.bot_id)
        assert bot is not None  # rows are deleted with their bot
        return message, bot


def _settle(session: Any, message_id: int, note: str | None = None) -> bool:
    """Mark the row HANDLED and let go of its claim, in the work's own transaction (no second one for it)."""
    message = session.get(Message, message_id)
    if message is None or message.status != MessageStatus.RECEIVED:
        return False
    message.status = MessageStatus.HANDLED
    message.error = note
    message.claimed_by = message.claimed_until = None
    return True


def _record_failure(state: PluginState, message_id: int, error: Exception) -> list[str]:
    """Mark the row FAILED and apologise to the person who wrote; returns the bot's secrets for scrubbing."""
    with state.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return []
        bot = session.get(Bot, message.bot_id)
        secrets = _secrets_of(state, bot) if bot is not None else []
        message.status = MessageStatus.FAILED
        message.claimed_by = message.claimed_until = None
        message.error = scrub(f"{type(error).__name__}: {error}", secrets)[:2000]
        if message.kind in _NOT_TURNS:
            return secrets  # nobody wrote: a lead's author is not a bot user, a host event is the CRM
        try:
            inbound: Inbound | None = inbound_from_dict(message.payload["inbound"])
        except Exception:  # noqa: BLE001 - the stored row may be what broke the bot
            inbound = None
        if inbound is not None and inbound.sender.is_group:
            return secrets  # the bot does not talk in groups, and a group is not told about one person's crash
        link = _link_of(session, message.bot_id, inbound) if inbound is not None else None
        if link is None and message.link_id is not None:
            link = session.get(EmployeeLink, message.link_id)
        if link is not None:
            message.link_id = link.id  # the admin's log shows whose message failed
        reply = apology(link.language if link else None, inbound.sender.language if inbound else None,
                        state.settings)
        enqueue(session, bot_id=message.bot_id, chat_id=message.chat_id, link_id=message.link_id, reply=reply)
        return secrets


def _secrets_of(state: PluginState, bot: Bot) -> list[str]:
    try:
        return secret_values(state.secrets.open(bot.credentials_encrypted), bot.webhook_secret)
    except Exception:  # noqa: BLE001 - undecryptable credentials: the generic token patterns still apply
        return [bot.webhook_secret] if bot.webhook_secret else []


def _run_bot(state: PluginState, session: Any, bot: Bot, message: Message, prefetched: Prefetched) -> None:
    inbound = inbound_from_dict(message.payload["inbound"])
    turn = Turn(session=session, gateway=state.gateway, bot=bot, inbound=inbound, settings=state.settings,
                download=prefetched.download, now=utcnow(), link=_link_of(session, bot.id, inbound))
    conversation.handle(turn)
    if turn.link is not None:
        message.link_id = turn.link.id


def _link_of(session: Any, bot_id: int, inbound: Inbound) -> EmployeeLink | None:
    return session.scalar(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                     EmployeeLink.platform_user_id == inbound.sender.user_id))
