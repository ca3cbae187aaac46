"""The chat's stored state row (crm_plugin_chat_states): where a conversation stands, kept across restarts."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..core.models import ChatState

# Built once: every turn runs it (building a statement costs about as much CPU as running this one).
_CHAT_STATE = select(ChatState).where(ChatState.bot_id == bindparam("bot_id"),
                                      ChatState.chat_id == bindparam("chat_id")).with_for_update()


def load_chat_state(session: Session, bot_id: int, chat_id: str) -> ChatState:
    """The chat's state row, locked for this transaction (photos of one album handled by two workers at once
    queue up here instead of both thinking they came first)."""
    chat = session.scalars(_CHAT_STATE, {"bot_id": bot_id, "chat_id": chat_id}).first()
    if chat is None:
        chat = ChatState(bot_id=bot_id, chat_id=chat_id, state="", data={})
        session.add(chat)
        session.flush()
    return chat
