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
import threading
import traceback
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import bot as conversation
from ..bot import host_events, lead_offers
from ..bot.pipeline import apology
from ..bot.turn import Turn
from ..channels.base import Channel, ParsedRequest, SendError
from ..core.chat import Inbound, Sender, Text, preview_text
from ..core.models import Bot, Direction, EmployeeLink, InboundKey, LinkStatus, Message, MessageStatus, utcnow
from ..core.scrub import scrub, secret_values
from ..core.state import PluginState
from ..delivery.outbox import enqueue, inbound_from_dict, inbound_row, log_inbound
from ..delivery.sender import ChannelCache, RetryLater
from . import leads
from .prefetch import Prefetched, prefetch

log = logging.getLogger(__name__)

LEAD_KIND = leads.LEAD_KIND
_NOT_TURNS = (LEAD_KIND, host_events.KIND)  # incoming rows nobody wrote to the bot

# Built once: every turn runs them. The row and its bot in one statement (outer: a row without its bot stays
# the assertion it was); the sender's link by bot and platform user.
_ROW_AND_BOT = (select(Message, Bot).outerjoin(Bot, Bot.id == Message.bot_id)
                .where(Message.id == bindparam("message_id")))
_LINK = select(EmployeeLink).where(EmployeeLink.bot_id == bindparam("bot_id"),
                                   EmployeeLink.platform_user_id == bindparam("user_id"))
# The bot's incoming row: its status (still waiting?) read in the turn's transaction, and marked HANDLED at its end.
_STATUS = select(Message.status).where(Message.id == bindparam("message_id"))
_MESSAGES = cast(Table, Message.__table__)  # Core: no ORM bookkeeping for a row the turn never loads
_KEYS = cast(Table, InboundKey.__table__)
_HANDLED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("message_id"))
            .values(status=MessageStatus.HANDLED, claimed_by=None, claimed_until=None))
_HANDLED_AS = _HANDLED.values(link_id=bindparam("link_id"))
_channel_cache_lock = threading.Lock()


def accept(state: PluginState, bot_id: int, parsed: ParsedRequest, raw: dict[str, Any] | None = None) -> bool:
    """Store a verified update; False when it is a retry of one already stored (nothing is stored then)."""
    if _one_event(parsed) and state.db.engine.dialect.name in _STORE_EVENT:
        return _accept_event(state, bot_id, parsed, raw)
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


def _store_event_statements() -> dict[str, list[Insert]]:
    """The usual update's dedupe key and log row, per dialect, with the log row inserted only when the key was new
    (a retried update stores nothing and counts 0 rows). PostgreSQL: one statement, WITH new_key AS (INSERT the key
    ON CONFLICT DO NOTHING RETURNING id) INSERT the row FROM new_key. SQLite has no INSERT in WITH: the key
    ON CONFLICT DO NOTHING, then the row WHERE changes() = 1. Built once, with a bind parameter per column, so each
    update only binds its values."""
    columns = list(inbound_row(bot_id=0, inbound=Inbound(Sender("", ""), Text(""))))
    row = select(*[bindparam(name, type_=_MESSAGES.c[name].type) for name in columns])
    statements: dict[str, list[Insert]] = {}
    for dialect, dialect_insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert)):
        key = dialect_insert(_KEYS).values(bot_id=bindparam("key_bot_id"), dedupe_key=bindparam("dedupe_key"),
                                           received_at=bindparam("received_at")).on_conflict_do_nothing()
        if dialect == "postgresql":
            new_key = key.returning(_KEYS.c.id).cte("new_key")
            statements[dialect] = [insert(_MESSAGES).from_select(columns, row.select_from(new_key)).add_cte(new_key)]
        else:
            statements[dialect] = [key, insert(_MESSAGES).from_select(columns, row.where(func.changes() == 1))]
    return statements


_STORE_EVENT = _store_event_statements()


def _one_event(parsed: ParsedRequest) -> bool:
    """The usual update: one event with the platform's dedupe key, no lead, nobody to mark unreachable."""
    return bool(parsed.dedupe_key) and len(parsed.inbound) == 1 and not parsed.leads and not parsed.unreachable


def _accept_event(state: PluginState, bot_id: int, parsed: ParsedRequest, raw: dict[str, Any] | None) -> bool:
    """``accept`` for the usual update: Core statements in one short transaction (on PostgreSQL one statement that
    commits by itself), without the ORM's unit of work, which cost about half the request. The platform waits for
    the answer, and each round trip also waits for the interpreter lock behind the worker's threads."""
    row = inbound_row(bot_id=bot_id, inbound=parsed.inbound[0], raw=raw)
    params = {**row, "key_bot_id": bot_id, "dedupe_key": parsed.dedupe_key, "received_at": row["created_at"]}
    steps = [(statement, params) for statement in _STORE_EVENT[state.db.engine.dialect.name]]
    try:
        stored = state.db.write(steps, urgent=True, new_rows=True)
    except IntegrityError:  # the bot was deleted meanwhile
        stored = 0
    if not stored:
        log.info("bot %s: update %s already stored, acknowledged again", bot_id, parsed.dedupe_key)
        return False
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
            outcome = leads.work(state, bot, message, _channel(state, bot), last_try=last_try)
            with state.db.session() as session:
                row = session.get(Message, message_id)
                if row is not None and row.status == MessageStatus.RECEIVED:
                    result = outcome.result()
                    row.payload = {**row.payload, "result": result}  # the parsed fields, for the admin's view
                    lead_offers.after_lead(state, session, bot, row.payload["lead"], result)
                return _settle(session, message_id, outcome.note)
        if kind == host_events.KIND:
            with state.db.session() as session:
                row = session.get(Message, message_id)
                if row is None or row.status != MessageStatus.RECEIVED:
                    return False  # settled meanwhile
                host_events.handle(state, session, row)
                row.status = MessageStatus.HANDLED  # its error, if the work noted one, stays for the admin
                row.claimed_by = row.claimed_until = None
                return True
        inbound = inbound_from_dict(message.payload["inbound"])
        prefetched = prefetch(state, _channel(state, bot), bot.id, inbound, raise_transient=not last_try)
        with state.db.session() as session:
            if session.scalar(_STATUS, {"message_id": message_id}) != MessageStatus.RECEIVED:
                return False  # settled meanwhile
            link_id = _run_bot(state, session, bot, inbound, prefetched)
            _mark_handled(session, message_id, link_id)
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
        found = session.execute(_ROW_AND_BOT, {"message_id": message_id}).first()
        if found is None or found[0].status != MessageStatus.RECEIVED:
            return None
        message, bot = found
        assert bot is not None  # rows are deleted with their bot
        return message, bot


def _channel(state: PluginState, bot: Bot) -> Channel:
    """The bot's channel, built (its credentials decrypted, its HTTP session made) once per bot rather than per
    turn; rebuilt when the bot's credentials, secret or API URL change, as the webhook's and the sender's are."""
    with _channel_cache_lock:
        cache = state.__dict__.get("_turn_channels")
        if cache is None:
            cache = state.__dict__["_turn_channels"] = ChannelCache(state)
    return cast(ChannelCache, cache).get(bot).channel


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


def _run_bot(state: PluginState, session: Any, bot: Bot, inbound: Inbound, prefetched: Prefetched) -> int | None:
    """The bot's turn; returns the id of the sender's link when the turn ends with one (the row's link_id)."""
    turn = Turn(session=session, gateway=state.gateway, bot=bot, inbound=inbound, settings=state.settings,
                download=prefetched.download, now=utcnow(), link=_link_of(session, bot.id, inbound),
                link_looked_up=True)  # none found: the turn does not ask again
    conversation.handle(turn)
    return turn.link.id if turn.link is not None else None


def _mark_handled(session: Any, message_id: int, link_id: int | None) -> None:
    """The turn's row HANDLED, its claim let go, and whose message it was (the admin's log; kept when the turn
    ended with no link). One UPDATE at the turn's end, with no row loaded: the row stays RECEIVED while the turn
    runs (bot.albums counts it); its error, if the work noted one, stays for the admin."""
    if link_id is None:  # no "link_id" key at all: Core would SET a parameter named like a column
        result = session.execute(_HANDLED, {"message_id": message_id})
    else:
        result = session.execute(_HANDLED_AS, {"message_id": message_id, "link_id": link_id})
    if result.rowcount != 1:  # deleted meanwhile (its bot was): the turn fails, as the ORM's flush made it
        raise StaleDataError(f"incoming message {message_id} was deleted during its turn")


def _link_of(session: Any, bot_id: int, inbound: Inbound) -> EmployeeLink | None:
    return session.scalars(_LINK, {"bot_id": bot_id, "user_id": inbound.sender.user_id}).first()
