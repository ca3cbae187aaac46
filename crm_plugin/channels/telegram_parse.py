"""A Telegram Update (webhook body or getUpdates item) -> neutral inbound events.

telebot's own ``types.Update.de_json`` reads the JSON; this module only maps the parts the bot cares about.
"""

from __future__ import annotations

import json
from typing import Any

from telebot import types

from ..core.chat import ButtonPress, Contact, Document, Event, FileRef, Inbound, Location, Photo, Sender, Start, Text
from .base import MalformedRequest, ParsedRequest

GROUP_CHAT_TYPES = frozenset({"group", "supergroup"})
# What a telebot model raises on a body of the wrong shape (missing keys, a string where an object goes...).
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def parse_body(body: bytes) -> ParsedRequest:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedRequest("the body is not JSON") from exc
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
        inbound = _inbound(update)
    except _SHAPE_ERRORS as exc:
        raise MalformedRequest(f"the update is not shaped like a Telegram update: {exc!r}") from exc
    return ParsedRequest(inbound=inbound, dedupe_key=f"tg:{update_id}")


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
        largest = max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
        file = FileRef(_require_str(largest.file_id, "photo.file_id"), content_type="image/jpeg",
                       size=largest.file_size)
        return Photo(file, media_group_id=message.media_group_id, caption=message.caption)
    if message.document is not None:
        doc = message.document
        file = FileRef(_require_str(doc.file_id, "document.file_id"), name=doc.file_name,
                       content_type=doc.mime_type, size=doc.file_size)
        return Document(file, media_group_id=message.media_group_id, caption=message.caption)
    if message.location is not None:
        return Location(float(message.location.latitude), float(message.location.longitude))
    return None


def _sender(user: types.User, chat: types.Chat | None) -> Sender:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    chat_id = str(chat.id) if chat is not None else str(user.id)
    return Sender(user_id=str(user.id), chat_id=chat_id, name=name, language=user.language_code,
                  is_group=chat is not None and chat.type in GROUP_CHAT_TYPES)


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value
