"""Keyboards under the input field, remembered in the chat's stored state.

Telegram asks for a contact or a location only from a reply keyboard under the input field; VK puts request
buttons, and keyboards too big to sit under a message, there too. Such a keyboard stays until a later message
takes it away. Whether a chat has one is kept in its crm_plugin_chat_states row (``SHOWN_KEY``), not on a channel
object: several sender threads and worker processes send for one chat, and a restart must not forget it. The
first reply without buttons after one carries ``TextReply.remove_keyboard``, which each channel renders.

A reply with buttons under its message cannot take an input keyboard along on every platform (Telegram's
message has one markup), so such a reply that opens with a paragraph of its own ("Готово! Вы вошли как …" then
the menu) is sent as two: the paragraph alone first, which takes the keyboard away, then the rest (``parts``).

The decision is made here, when the reply is queued, in the transaction that queues it; the outbox then sends a
chat's rows in order, so the flag reaches the platform right after the keyboard it removes.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from ..channels import channel_class
from ..core.chat import Reply, TextReply
from ..core.models import Bot
from .chat_state import chat_state_in, load_chat_state

SHOWN_KEY = "_input_keyboard"  # chat data; "_": kept when the conversation's state changes


def prepare(session: Session, bot: Bot, chat_id: str, reply: Reply, *, own_chat: bool) -> Reply:
    """``reply`` as it is to be queued for ``chat_id``: with ``remove_keyboard`` when the chat still has an input
    keyboard and this reply has no buttons. ``own_chat``: the chat of the turn being handled (its state row is
    the turn's to change); for anyone else's chat the flag is only set, never cleared, so a notification never
    writes to a chat another turn may hold (the chat's own next reply clears it; a second removal is harmless)."""
    if not isinstance(reply, TextReply):
        return reply
    if reply.buttons:
        if not channel_class(bot.platform).input_keyboard(reply.buttons):
            return reply  # a keyboard under its message: an input keyboard stays as it was
        chat = chat_state_in(session, bot.id, chat_id) or load_chat_state(session, bot.id, chat_id)
        if not (chat.data or {}).get(SHOWN_KEY):
            chat.data = {**(chat.data or {}), SHOWN_KEY: True}  # a new dict: JSON columns track assignment only
        return reply
    shown = chat_state_in(session, bot.id, chat_id)
    if shown is None or not (shown.data or {}).get(SHOWN_KEY):
        return reply
    if own_chat:
        shown.data = {k: v for k, v in (shown.data or {}).items() if k != SHOWN_KEY}
    return dataclasses.replace(reply, remove_keyboard=True)


def parts(session: Session, bot: Bot, chat_id: str, reply: Reply) -> list[Reply]:
    """``reply`` as the messages to queue for the turn's own chat: its first paragraph apart when the chat
    still has an input keyboard and the reply's buttons go under the message (see the module's docstring)."""
    if not isinstance(reply, TextReply) or not reply.buttons or "\n\n" not in reply.text:
        return [reply]
    if channel_class(bot.platform).input_keyboard(reply.buttons):
        return [reply]
    chat = chat_state_in(session, bot.id, chat_id)
    if chat is None or not (chat.data or {}).get(SHOWN_KEY):
        return [reply]
    head, rest = reply.text.split("\n\n", 1)
    return [TextReply(head), dataclasses.replace(reply, text=rest)]
