"""Claiming rows for a worker, and settling them afterwards.

A claim is a lease: ``claimed_by`` names the worker, ``claimed_until`` says when the claim lapses. A worker
that crashes leaves its rows SENDING with a lease that runs out, and then any worker claims them again.

Several workers never take one row: on PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``;
on SQLite the plugin's engine opens every transaction with BEGIN IMMEDIATE, so claims are serialised.

Fair shares: the worker claims due outgoing rows bot by bot (``claim_outgoing(bot_id=...)``), so one bot's
backlog never keeps another bot's rows waiting; each bot is paced by its own limits.

Per-chat order: a row is claimable only when no older row of the same chat is still pending, so a chat's
messages go out one after another, and a chat waiting out a 429 holds its later messages back. Incoming
rows (RECEIVED) are ordered the same way, so the bot reads a person's messages in the order sent.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, select, text, update
from sqlalchemy.orm import Session

from ..core.models import PENDING_STATUSES_SQL, Message, MessageStatus, UtcDateTime

log = logging.getLogger(__name__)

_TABLE = Message.__tablename__

# The row is the oldest pending one of its chat and direction. A correlated scalar subquery, not NOT EXISTS:
# PostgreSQL turns NOT EXISTS into an anti-join, which on a queue table's stale statistics it ran as a scan of
# every pending row per candidate; a scalar subquery stays an index probe on (bot_id, chat_id, id) per row.
# The first IN repeats the partial index's predicate word for word: SQLite uses a partial index only when
# the query states its WHERE exactly.
_OLDEST = f"""m.id = (
    SELECT min(older.id) FROM {_TABLE} AS older
    WHERE older.bot_id = m.bot_id AND older.chat_id = m.chat_id
      AND older.{PENDING_STATUSES_SQL} AND older.status IN {{statuses}})"""

_OUT_DUE = ("m.status = 'queued' AND m.next_attempt_at <= :now AND "
            + _OLDEST.format(statuses="('queued', 'sending')"))
_OUT_LAPSED = "m.status = 'sending' AND m.claimed_until < :now"  # its own chat is already held by it
_IN_DUE = ("m.status = 'received' AND m.next_attempt_at <= :now "
           "AND (m.claimed_until IS NULL OR m.claimed_until < :now) AND "
           + _OLDEST.format(statuses="('received')"))


# One bot's due rows: read along the pending index (bot_id, chat_id, id), which holds only that bot's unsent
# rows, instead of the due index, where a bot's rows may sit behind every other bot's backlog. No ORDER BY: the
# scan stops at LIMIT; the per-chat order is the _OLDEST condition's job.
_PENDING_INDEX = "ix_crm_plugin_messages_pending"
_BOT_DUE = f"m.bot_id = :bot AND m.{PENDING_STATUSES_SQL} AND " + _OUT_DUE


_COLUMNS = ", ".join(column.name for column in Message.__table__.columns)  # the claimed rows come back whole


def _claim_sql(dialect: str, condition: str, new_status: str, *, by_bot: bool = False) -> str:
    # ORDER BY the due index's own order, so the scan stops after LIMIT rows instead of sorting every due row.
    lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    source = f"{_TABLE} AS m"
    order = "ORDER BY m.next_attempt_at"
    if by_bot:
        order = ""
        if dialect == "sqlite":  # without statistics SQLite would pick the due index and scan other bots' rows
            source += f" INDEXED BY {_PENDING_INDEX}"
    return f"""
        UPDATE {_TABLE} SET status = '{new_status}', claimed_by = :worker, claimed_until = :until
        WHERE id IN (
            SELECT m.id FROM {source} WHERE {condition}
            {order} LIMIT :limit {lock})
        RETURNING {_COLUMNS}"""


@functools.cache
def _claim_statement(dialect: str, condition: str, new_status: str, by_bot: bool) -> Executable:
    # Built once: a claim runs every few rows, and building one parses its SQL text and binds its columns.
    statement = text(_claim_sql(dialect, condition, new_status, by_bot=by_bot)).bindparams(
        bindparam("now", type_=UtcDateTime()), bindparam("until", type_=UtcDateTime())
    ).columns(*Message.__table__.columns)  # typed, so the rows come back as the ORM reads them
    return select(Message).from_statement(statement)


def _claim(session: Session, condition: str, new_status: str, worker: str, limit: int, lease: float,
           now: datetime, bot_id: int | None = None) -> list[Message]:
    if limit <= 0:
        return []
    statement = _claim_statement(session.get_bind().dialect.name, condition, new_status, bot_id is not None)
    params: dict[str, object] = {"worker": worker, "until": now + timedelta(seconds=lease), "now": now,
                                 "limit": limit}
    if bot_id is not None:
        params["bot"] = bot_id
    rows: list[Message] = list(session.scalars(statement, params))
    return sorted(rows, key=lambda row: row.id)  # RETURNING keeps no order


def claim_outgoing(session: Session, worker: str, *, limit: int, lease: float, now: datetime,
                   bot_id: int | None = None) -> list[Message]:
    """Take up to ``limit`` due outgoing rows (and lapsed claims) for ``worker``: they become SENDING.
    With ``bot_id``: only that bot's due rows (lapsed claims are taken by ``claim_lapsed``)."""
    if bot_id is not None:
        return _claim(session, _BOT_DUE, "sending", worker, limit, lease, now, bot_id)
    lapsed = claim_lapsed(session, worker, limit=limit, lease=lease, now=now)
    return lapsed + _claim(session, _OUT_DUE, "sending", worker, limit - len(lapsed), lease, now)


def claim_lapsed(session: Session, worker: str, *, limit: int, lease: float, now: datetime) -> list[Message]:
    """Take over outgoing rows whose claim ran out (a worker crashed while sending them)."""
    return _claim(session, _OUT_LAPSED, "sending", worker, limit, lease, now)


def claim_incoming(session: Session, worker: str, *, limit: int, lease: float, now: datetime) -> list[Message]:
    """Take up to ``limit`` incoming rows waiting for the bot; they stay RECEIVED, under a lease."""
    return _claim(session, _IN_DUE, "received", worker, limit, lease, now)


def _settle(session: Session, message_id: int, worker: str, **values: object) -> bool:
    """Write an outcome if the row is still ours (a lapsed and re-claimed row belongs to another worker)."""
    values = {"claimed_by": None, "claimed_until": None, **values}
    result = session.execute(
        update(Message).where(Message.id == message_id, Message.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_sent(session: Session, message_id: int, worker: str, *, platform_ids: list[str], now: datetime,
              note: str | None = None) -> bool:
    """SENT; ``claimed_by`` keeps the worker that sent it (the log shows which process did). ``note``: what
    the log should say of a sent message (a chart that could not go with its text)."""
    return _settle(session, message_id, worker, status=MessageStatus.SENT, sent_at=now, error=note,
                   platform_message_id=",".join(platform_ids)[:128] or None, claimed_by=worker)


def mark_many_sent(session: Session, worker: str, outcomes: list[tuple[int, dict[str, Any]]]) -> None:
    """``mark_sent`` for many rows in one statement executed with many parameter sets."""
    params = [{"message_id": message_id, "worker": worker, "sent_at": outcome["now"], "error": outcome.get("note"),
               "platform_message_id": ",".join(outcome["platform_ids"])[:128] or None}
              for message_id, outcome in outcomes]
    statement = text(f"""UPDATE {_TABLE} SET status = 'sent', sent_at = :sent_at, error = :error,
                             platform_message_id = :platform_message_id, claimed_until = NULL
                         WHERE id = :message_id AND claimed_by = :worker""").bindparams(
        bindparam("sent_at", type_=UtcDateTime()))
    result = session.execute(statement, params)
    if 0 <= result.rowcount < len(params):  # type: ignore[attr-defined]
        log.warning("%d messages were sent, but their claims had lapsed to another worker",
                    len(params) - result.rowcount)  # type: ignore[attr-defined]


def reschedule(session: Session, message_id: int, worker: str, *, status: MessageStatus, at: datetime,
               attempts: int | None = None, error: str | None = None) -> bool:
    """Back to waiting (QUEUED, or RECEIVED for incoming rows) until ``at``."""
    values: dict[str, object] = {"status": status, "next_attempt_at": at}
    if attempts is not None:
        values["attempts"] = attempts
    if error is not None:
        values["error"] = error
    return _settle(session, message_id, worker, **values)


def mark_failed(session: Session, message_id: int, worker: str, *, error: str, attempts: int | None = None) -> bool:
    values: dict[str, object] = {"status": MessageStatus.FAILED, "error": error}
    if attempts is not None:
        values["attempts"] = attempts
    return _settle(session, message_id, worker, **values)


def release_unstarted(session: Session, message_ids: list[int], worker: str) -> None:
    """Give back claimed rows this worker will not get to (stopping): others may take them at once.
    Outgoing rows go back to QUEUED; incoming ones stay RECEIVED and only lose the lease."""
    if not message_ids:
        return
    session.execute(
        update(Message).where(Message.id.in_(message_ids), Message.claimed_by == worker,
                              Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.QUEUED, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
    session.execute(
        update(Message).where(Message.id.in_(message_ids), Message.claimed_by == worker,
                              Message.status == MessageStatus.RECEIVED)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
