"""Claiming rows for a worker, and settling them afterwards.

A claim is a lease: ``claimed_by`` names the worker, ``claimed_until`` says when the claim lapses. A worker
that crashes leaves its rows SENDING with a lease that runs out, and then any worker claims them again.

Several workers never take one row: on PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``;
on SQLite the plugin's engine opens every transaction with BEGIN IMMEDIATE, so claims are serialised.

Per-chat order: a row is claimable only when no older row of the same chat is still pending, so a chat's
messages go out one after another, and a chat waiting out a 429 holds its later messages back. Incoming
rows (RECEIVED) are ordered the same way, so the bot reads a person's messages in the order sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from ..core.models import PENDING_STATUSES_SQL, Message, MessageStatus, UtcDateTime

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


def _claim_sql(dialect: str, condition: str, new_status: str) -> str:
    # ORDER BY the due index's own order, so the scan stops after LIMIT rows instead of sorting every due row.
    lock = "FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
    return f"""
        UPDATE {_TABLE} SET status = '{new_status}', claimed_by = :worker, claimed_until = :until
        WHERE id IN (
            SELECT m.id FROM {_TABLE} AS m WHERE {condition}
            ORDER BY m.next_attempt_at LIMIT :limit {lock})
        RETURNING id"""


def _claim(session: Session, condition: str, new_status: str, worker: str, limit: int, lease: float,
           now: datetime) -> list[Message]:
    if limit <= 0:
        return []
    dialect = session.get_bind().dialect.name
    statement = text(_claim_sql(dialect, condition, new_status)).bindparams(
        bindparam("now", type_=UtcDateTime()), bindparam("until", type_=UtcDateTime()))
    ids = session.execute(statement, {"worker": worker, "until": now + timedelta(seconds=lease), "now": now,
                                      "limit": limit}).scalars().all()
    if not ids:
        return []
    rows = session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all()
    return list(rows)


def claim_outgoing(session: Session, worker: str, *, limit: int, lease: float, now: datetime) -> list[Message]:
    """Take up to ``limit`` due outgoing rows (and lapsed claims) for ``worker``: they become SENDING."""
    lapsed = _claim(session, _OUT_LAPSED, "sending", worker, limit, lease, now)
    return lapsed + _claim(session, _OUT_DUE, "sending", worker, limit - len(lapsed), lease, now)


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


def mark_sent(session: Session, message_id: int, worker: str, *, platform_ids: list[str], now: datetime) -> bool:
    """SENT; ``claimed_by`` keeps the worker that sent it (the log shows which process did)."""
    return _settle(session, message_id, worker, status=MessageStatus.SENT, sent_at=now, error=None,
                   platform_message_id=",".join(platform_ids)[:128] or None, claimed_by=worker)


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
    """Give back claimed rows this worker will not get to (stopping): others may take them at once."""
    if not message_ids:
        return
    session.execute(
        update(Message).where(Message.id.in_(message_ids), Message.claimed_by == worker,
                              Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.QUEUED, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
