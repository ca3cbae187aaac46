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
    queue up here instead of both thinking they came first).

    A chat without one gets a new row, written when the session next flushes (at the latest with the turn's
    commit) with whatever the turn put in it: one INSERT rather than an INSERT now and an UPDATE at the commit.
    A row not written yet has nothing to lock: a second transaction creating the same chat's row still fails on
    the primary key, now at its flush rather than here (a chat's turns do not overlap: the worker claims a
    chat's incoming rows one at a time). Look the row up again with ``chat_state_in``, which finds it before it
    is written."""
    chat = new_chat_state(session, bot_id, chat_id) or session.scalars(
        _CHAT_STATE, {"bot_id": bot_id, "chat_id": chat_id}).first()
    if chat is None:
        chat = ChatState(bot_id=bot_id, chat_id=chat_id, state="", data={})
        session.add(chat)
    return chat


def chat_state_in(session: Session, bot_id: int, chat_id: str) -> ChatState | None:
    """The chat's state row as ``session.get`` finds it (this session's copy, else read without a lock), or the
    row this session has created and not written yet; None when the chat has none."""
    return new_chat_state(session, bot_id, chat_id) or session.get(ChatState, (bot_id, chat_id))


def new_chat_state(session: Session, bot_id: int, chat_id: str) -> ChatState | None:
    """The chat's row when this session added it and has not written it yet (``session.get`` would flush it
    first, and a change after that would cost an UPDATE of its own)."""
    for pending in session.new:
        if isinstance(pending, ChatState) and pending.bot_id == bot_id and pending.chat_id == chat_id:
            return pending
    return None
