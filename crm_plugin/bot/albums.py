"""Whether more files of an album are still waiting in the incoming queue.

An album arrives as one incoming row per file. The bot answers an album once, with the whole count
(«Получено 3 фото»), so it waits for the album's last row: while another file of the same album is still
queued for this chat, the file just handled is not answered yet. Rows reach the queue together (the platform
sends an album at once), so the last one handled sees the whole album; a file that arrives after the answer
is stored silently, as the rest of an album always was.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.models import Direction, Message, MessageStatus
from ..delivery.outbox import inbound_from_dict

log = logging.getLogger(__name__)

_LOOK_AT = 40  # queued files of one chat looked at; an album holds at most 10


def more_queued(session: Session, bot_id: int, chat_id: str, group: str) -> bool:
    """True when a file of album ``group`` other than the one being handled still waits for the bot (the
    row being handled is itself still RECEIVED until its turn commits)."""
    payloads = session.scalars(
        select(Message.payload).where(Message.bot_id == bot_id, Message.chat_id == chat_id,
                                      Message.direction == Direction.IN, Message.status == MessageStatus.RECEIVED,
                                      Message.kind.in_(("photo", "document")))
        .order_by(Message.id).limit(_LOOK_AT))
    return sum(1 for payload in payloads if _group_of(payload) == group) > 1


def _group_of(payload: Any) -> str | None:
    try:
        return getattr(inbound_from_dict(payload["inbound"]).event, "media_group_id", None)
    except Exception:  # noqa: BLE001 - a row the bot cannot read is not part of the album
        return None
