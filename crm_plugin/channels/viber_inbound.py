"""Viber callbacks (the JSON Viber POSTs to the webhook) turned into neutral events.

The raw dict is read here rather than through viberbot's request classes: those drop a picture's
``file_name``/``file_size`` and fail with bare ``Exception``/``KeyError`` on bad input, where we need
MalformedRequest. Field names follow the Viber REST API "Callbacks" section.
"""

from __future__ import annotations

import json
import logging
from typing import Any

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

log = logging.getLogger(__name__)

# Keyboard "reply" buttons send their ActionBody as the person's text. These prefixes tell a pressed button
# from typed text: "btn:<payload>" is a payload button, "start:<context>" the welcome message's start button.
BUTTON_PREFIX = "btn:"
START_PREFIX = "start:"
# tracking_data of a message that carries a share-phone keyboard (see viber_outbound.render_text): Viber echoes
# it in the person's reply, which is how a share-phone contact is told from a forwarded contact card.
SHARE_PHONE_TRACKING = "crm:share-phone"

_SILENT_EVENTS = {"delivered", "seen", "failed", "webhook", "subscribed"}


def load(body: bytes) -> dict[str, Any]:
    try:
        data = load_json(body)
    except ValueError as exc:
        raise MalformedRequest(f"Viber callback is not JSON a platform sends: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise MalformedRequest("Viber callback without an event")
    return data


def parse_callback(data: dict[str, Any], *, welcome: dict[str, Any] | None) -> ParsedRequest:
    """``welcome``: the message to answer a conversation_started with for a not yet subscribed person."""
    event = data["event"]
    token = data.get("message_token")
    parsed = ParsedRequest(dedupe_key=f"viber:{token}" if token is not None else None)
    try:
        if event == "message":
            parsed.inbound.append(_message(data))
        elif event == "conversation_started":
            _conversation_started(data, parsed, welcome)
            parsed.inbound = [check_inbound(item) for item in parsed.inbound]
        elif event == "unsubscribed":
            parsed.unreachable.append(_str(data["user_id"]))
            log.info("viber: %s unsubscribed", data["user_id"])
        elif event in _SILENT_EVENTS:
            if event == "failed":
                log.warning("viber: delivery failed to %s: %s", data.get("user_id"), data.get("desc"))
        else:
            log.info("viber: ignoring unknown event %r", event)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MalformedRequest(f"Viber {event} callback is missing or has a bad field: {exc!r}") from exc
    return parsed


def _conversation_started(data: dict[str, Any], parsed: ParsedRequest, welcome: dict[str, Any] | None) -> None:
    # Viber lets a bot write to a person only after they subscribe, except for one welcome message sent as
    # the HTTP answer to conversation_started. A bot reply queued to the outbox would bounce with status 6
    # ("not subscribed"), so an unsubscribed person gets the welcome message with a start button that
    # carries the deep-link context; pressing it subscribes them and arrives as Start(context). A person who
    # is already subscribed (re-opening the chat) gets Start(context) at once.
    context = data.get("context") or None
    sender = _sender(data["user"])
    if data.get("subscribed") or welcome is None:
        parsed.inbound.append(Inbound(sender, Start(context), _str(data.get("message_token"))))
        return
    parsed.response = welcome_with_context(welcome, context)


def welcome_with_context(welcome: dict[str, Any], context: str | None) -> dict[str, Any]:
    answer = json.loads(json.dumps(welcome))  # a deep copy: the template is shared
    for button in answer.get("keyboard", {}).get("Buttons", []):
        if button.get("ActionBody") == START_PREFIX:
            button["ActionBody"] = START_PREFIX + (context or "")
    return answer


def _message(data: dict[str, Any]) -> Inbound:
    sender = _sender(data["sender"])
    message = data["message"]
    kind = message["type"]
    token = _str(data["message_token"])
    return check_inbound(Inbound(sender, _event(kind, message, sender), token))


def _event(kind: str, message: dict[str, Any], sender: Sender) -> Event:
    if kind == "text":
        return _text_event(str(message["text"]))
    if kind == "picture":
        return Photo(_file(message), caption=_text_or_none(message.get("text")))
    if kind in ("file", "video"):
        return Document(_file(message), caption=_text_or_none(message.get("text")))
    if kind == "location":
        location = message["location"]
        return Location(float(location["lat"]), float(location["lon"]))
    if kind == "contact":
        # Viber's callback has no field saying whose number it is. It is the sender's own only when it answers
        # our share-phone button: that keyboard hides the input field (no attaching a contact card while it is
        # shown) and its tracking_data comes back with the reply. Anything else is a forwarded card.
        own = message.get("tracking_data") == SHARE_PHONE_TRACKING
        return Contact(str(message["contact"]["phone_number"]), own=own)
    if kind == "url":
        return Text(str(message["media"]))
    # Stickers and anything new: a readable placeholder, so the bot can answer "не понял".
    return Text(str(message.get("text") or f"[{kind}]"))


def _text_event(text: str) -> Event:
    if text.startswith(BUTTON_PREFIX):
        return ButtonPress(text[len(BUTTON_PREFIX):])
    if text.startswith(START_PREFIX):
        return Start(text[len(START_PREFIX):] or None)
    return Text(text)


def _file(message: dict[str, Any]) -> FileRef:
    size = message.get("file_size", message.get("size"))  # callbacks say file_size; viberbot's model says size
    return FileRef(str(message["media"]), name=_text_or_none(message.get("file_name")),
                   size=int(size) if size is not None else None)


def _sender(user: dict[str, Any]) -> Sender:
    user_id = _str(user["id"])
    language = user.get("language")
    return Sender(user_id=user_id, chat_id=user_id, name=str(user.get("name") or ""),
                  language=language if isinstance(language, str) else None)


def _text_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _str(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise ValueError(f"expected an id, got {value!r}")
    return str(value)
