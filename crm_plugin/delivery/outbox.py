"""Writing to the outbox and the message log. Rows are added in the caller's transaction, so a message
exists exactly when the change that caused it was committed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from ..core import chat
from ..core.chat import Inbound, Reply, event_preview, reply_kind, reply_preview, reply_to_dict
from ..core.db import mark_new_rows
from ..core.models import Direction, Message, MessageStatus, utcnow


def enqueue(session: Session, *, bot_id: int, chat_id: str, reply: Reply, link_id: int | None = None) -> Message:
    """Queue one reply for delivery; the worker sends it."""
    message = Message(
        bot_id=bot_id, chat_id=chat_id, link_id=link_id, direction=Direction.OUT, kind=reply_kind(reply),
        preview=reply_preview(reply), payload=reply_to_dict(reply), status=MessageStatus.QUEUED,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    mark_new_rows(session)
    return message


def log_inbound(session: Session, *, bot_id: int, inbound: Inbound, raw: dict[str, Any] | None = None,
                link_id: int | None = None) -> Message:
    """Record an incoming event; it waits (RECEIVED) until the worker runs the bot on it."""
    message = Message(**inbound_row(bot_id=bot_id, inbound=inbound, raw=raw, link_id=link_id))
    session.add(message)
    mark_new_rows(session)
    return message


def inbound_row(*, bot_id: int, inbound: Inbound, raw: dict[str, Any] | None = None,
                link_id: int | None = None) -> dict[str, Any]:
    """The column values of an incoming event's log row, RECEIVED (every column a new row needs)."""
    kind, preview = event_preview(inbound.event)
    now = utcnow()
    return {"bot_id": bot_id, "chat_id": inbound.sender.chat_id, "link_id": link_id, "direction": Direction.IN,
            "kind": kind, "preview": preview, "payload": {"inbound": inbound_to_dict(inbound), "raw": raw or {}},
            "status": MessageStatus.RECEIVED, "attempts": 0, "next_attempt_at": now, "created_at": now,
            "platform_message_id": inbound.message_id}


def resend(session: Session, message_id: int) -> bool:
    """Put a FAILED message back in line (the admin's "send again"); False when it is not FAILED.

    An outgoing row is QUEUED again, an incoming one RECEIVED (the bot reads it again), with a fresh
    attempt count; the error stays visible until the next outcome replaces it.
    """
    message = session.get(Message, message_id)
    if message is None or message.status is not MessageStatus.FAILED:
        return False
    message.status = MessageStatus.QUEUED if message.direction is Direction.OUT else MessageStatus.RECEIVED
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.claimed_by = message.claimed_until = None
    mark_new_rows(session)
    return True


def inbound_to_dict(inbound: Inbound) -> dict[str, Any]:
    return {"event_type": type(inbound.event).__name__, **asdict(inbound)}


def inbound_from_dict(data: dict[str, Any]) -> Inbound:
    event_cls = getattr(chat, data["event_type"])
    event_data = dict(data["event"])
    if "file" in event_data:
        event_data["file"] = chat.FileRef(**event_data["file"])
    return Inbound(chat.Sender(**data["sender"]), event_cls(**event_data), data.get("message_id"))
