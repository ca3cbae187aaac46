"""A Telegram Update (webhook body or getUpdates item) -> neutral inbound events.

telebot's own ``types.Update.de_json`` reads the JSON; this module only maps the parts the bot cares about.
"""

from __future__ import annotations

from typing import Any

from telebot import types

from ..core.chat import (
    ButtonPress,
    Contact,
    Document,
    Event,
    FileRef,
    Inbound,
    Location,
    Photo,
    Sender,
    Start,
    Text,
    check_inbound,
)
from ..core.untrusted import load_json
from .base import MalformedRequest, ParsedRequest

GROUP_CHAT_TYPES = frozenset({"group", "supergroup"})
# What a telebot model raises on a body of the wrong shape (missing keys, a string where an object goes, a
# number too large for a float...).
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def parse_body(body: bytes) -> ParsedRequest:
    try:
        data = load_json(body)
    except ValueError as exc:
        raise MalformedRequest(f"the body is not JSON a platform sends: {exc}") from exc
    return parse_update(data)


def parse_update(data: Any) -> ParsedRequest:
    """One Update as a dict; unknown update kinds give a request with no events."""
    if not isinstance(data, dict):
        raise MalformedRequest("an update is a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedRequest("the update has no integer update_id")
    try:
        update = types.Update.de_json(data)
        inbound = [check_inbound(item) for item in _inbound(update)]
        unreachable = _blocked_by(update.my_chat_member)
    except _SHAPE_ERRORS as exc:
        raise MalformedRequest(f"the update is not shaped like a Telegram update: {exc!r}") from exc
    return ParsedRequest(inbound=inbound, dedupe_key=f"tg:{update_id}", unreachable=unreachable)


# The bot's own status in a private chat after a my_chat_member update: "kicked" when the person blocked the
# bot (Telegram's only sign of it before a send fails with 403), "left" when the account is gone.
_GONE_STATUSES = frozenset({"kicked", "left"})


def _blocked_by(change: types.ChatMemberUpdated | None) -> list[str]:
    """The user id of a person who blocked the bot in their private chat; [] for any other member update."""
    if change is None or change.chat is None or change.chat.type != "private" or change.from_user is None:
        return []
    status = change.new_chat_member.status if change.new_chat_member is not None else None
    return [_id(change.from_user.id)] if status in _GONE_STATUSES else []


def _inbound(update: types.Update) -> list[Inbound]:
    if update.callback_query is not None:
        return _callback(update.callback_query)
    message = update.message
    if message is None or message.from_user is None:
        return []  # edits, channel posts, member updates...: nothing for the bot
    event = _message_event(message, message.from_user)
    if event is None:
        return []
    return [Inbound(_sender(message.from_user, message.chat), event, str(message.message_id))]


def _callback(query: types.CallbackQuery) -> list[Inbound]:
    data = query.data
    if data is None:
        return []  # a game button: not ours
    _require_str(data, "callback_query.data")
    chat = query.message.chat if query.message is not None else None
    message_id = str(query.message.message_id) if query.message is not None else None
    return [Inbound(_sender(query.from_user, chat), ButtonPress(data, callback_id=str(query.id)), message_id)]


def _message_event(message: types.Message, sender: types.User) -> Event | None:
    if message.text is not None:
        text = _require_str(message.text, "message.text")
        command, _, rest = text.partition(" ")
        if command == "/start" or command.startswith("/start@"):
            return Start(rest.strip() or None)
        return Text(text)
    if message.contact is not None:
        contact = message.contact
        phone = _require_str(contact.phone_number, "contact.phone_number")
        return Contact(phone, own=contact.user_id is not None and contact.user_id == sender.id)
    if message.photo:
        largest = max(message.photo, key=lambda size: (_int(size.width) * _int(size.height), _int(size.file_size)))
        file = FileRef(_require_str(largest.file_id, "photo.file_id"), content_type="image/jpeg",
                       size=largest.file_size)
        return Photo(file, media_group_id=_id_or_none(message.media_group_id), caption=message.caption)
    if message.document is not None:
        doc = message.document
        file = FileRef(_require_str(doc.file_id, "document.file_id"), name=doc.file_name,
                       content_type=doc.mime_type, size=doc.file_size)
        return Document(file, media_group_id=_id_or_none(message.media_group_id), caption=message.caption)
    if message.location is not None:
        return Location(float(message.location.latitude), float(message.location.longitude))
    return None


def _sender(user: types.User, chat: types.Chat | None) -> Sender:
    name = " ".join(str(part) for part in (user.first_name, user.last_name) if part)
    chat_id = _id(chat.id) if chat is not None else _id(user.id)
    language = user.language_code if isinstance(user.language_code, str) else None  # an IETF tag, else unknown
    return Sender(user_id=_id(user.id), chat_id=chat_id, name=name, language=language,
                  is_group=chat is not None and chat.type in GROUP_CHAT_TYPES)


def _id(value: Any) -> str:
    """A user or chat id: an integer on Telegram (int64); anything else is not a Telegram update."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("an id is an integer")
    return str(value)


def _id_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int:
    """A size or dimension for comparing photo sizes; missing or not a number counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value
