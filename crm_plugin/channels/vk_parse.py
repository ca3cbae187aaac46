"""VK Callback API / Bots Long Poll events -> neutral inbound events.

vk_api has no Callback API; the body is ``{type, object, group_id, event_id, v, secret}``. VK never gives a
bot the person's phone, so no Contact events come from here.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from ..core.chat import (
    ButtonPress,
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
from . import vk_leads
from .base import MalformedRequest, ParsedRequest

GROUP_PEER_OFFSET = 2_000_000_000  # peer ids of group chats start here
LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en"}  # client_info.lang_id


def load_body(body: bytes) -> dict[str, Any]:
    """The event of a Callback API body (read before its ``secret`` is checked: the secret is inside)."""
    try:
        data = load_json(body)
    except ValueError as exc:
        raise MalformedRequest(f"the body is not JSON a platform sends: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise MalformedRequest("a VK event is a JSON object with a type")
    return data


def parse_event(data: dict[str, Any], confirmation: str | None) -> ParsedRequest:
    """One event (a Callback API body or a long poll update)."""
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedRequest("a VK event has a type")
    if kind == "confirmation":
        return ParsedRequest(response=confirmation or "")
    event_id = data.get("event_id")
    parsed = ParsedRequest(dedupe_key=f"vk:{event_id}" if event_id else None, response="ok")
    try:
        if kind == "message_new":
            parsed.inbound = [check_inbound(item) for item in _message_new(data["object"])]
            parsed.leads = vk_leads.message_lead(data["object"], _group_id(data), parsed.inbound)
        elif kind == "message_event":
            parsed.inbound = [check_inbound(_message_event(data["object"]))]
        elif kind in vk_leads.LEAD_ONLY_EVENTS:
            parsed.leads = vk_leads.event_leads(kind, data["object"], _group_id(data))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise MalformedRequest(f"the {kind} event is not shaped like VK's: {exc!r}") from exc
    return parsed


def _group_id(data: dict[str, Any]) -> int | None:
    """The community's id (VK sends it positive); None when the event does not say."""
    group_id = data.get("group_id")
    return abs(group_id) if isinstance(group_id, int) and not isinstance(group_id, bool) else None


def _message_new(obj: dict[str, Any]) -> list[Inbound]:
    message = obj["message"]
    lang = (obj.get("client_info") or {}).get("lang_id")
    sender = _sender(message["from_id"], message["peer_id"], LANGUAGES.get(lang) if isinstance(lang, int) else None)
    message_id = str(message.get("id") or message.get("conversation_message_id") or "") or None
    return [Inbound(sender, event, message_id) for event in _message_events(message)]


def _message_events(message: dict[str, Any]) -> list[Event]:
    text = _str(message.get("text") or "")
    payload = _payload(message.get("payload"))
    if payload is not None and payload.get("command") == "start" or message.get("ref"):
        return [Start(_str(message["ref"]) if message.get("ref") else None)]
    if payload is not None and "cmd" in payload:
        return [ButtonPress(str(payload["cmd"]))]
    attachments = message.get("attachments") or []
    photos = [a["photo"] for a in attachments if a["type"] == "photo"]
    docs = [a["doc"] for a in attachments if a["type"] == "doc"]
    group = f"vk:{message.get('conversation_message_id')}" if len(photos) + len(docs) > 1 else None
    events: list[Event] = []
    for photo in photos:
        largest = max(photo["sizes"], key=lambda s: _int(s.get("width")) * _int(s.get("height")))
        events.append(Photo(FileRef(_str(largest["url"]), content_type="image/jpeg"), group, text or None))
    for doc in docs:
        title = _str(doc.get("title") or f"file.{doc.get('ext', 'bin')}")
        file = FileRef(_str(doc["url"]), name=title, content_type=mimetypes.guess_type(title)[0],
                       size=_int(doc.get("size")) or None)
        events.append(Document(file, group, text or None))
    events = [events[0], *(_without_caption(e) for e in events[1:])] if events else []
    geo = message.get("geo")
    if geo:
        coordinates = geo["coordinates"]
        events.append(Location(float(coordinates["latitude"]), float(coordinates["longitude"])))
    if not events and text:
        events.append(Text(text))
    return events


def _message_event(obj: dict[str, Any]) -> Inbound:
    payload = obj.get("payload")
    if isinstance(payload, str):
        payload = _payload(payload)
    command = payload.get("cmd") if isinstance(payload, dict) else None
    data = str(command) if command is not None else json.dumps(payload, ensure_ascii=False)
    sender = _sender(obj["user_id"], obj["peer_id"], None)
    return Inbound(sender, ButtonPress(data, callback_id=_str(obj["event_id"])),
                   str(obj.get("conversation_message_id") or "") or None)


def _sender(user_id: Any, peer_id: Any, language: str | None) -> Sender:
    if not isinstance(user_id, int) or not isinstance(peer_id, int):
        raise TypeError("from_id and peer_id are integers")
    return Sender(user_id=str(user_id), chat_id=str(peer_id), language=language, is_group=peer_id >= GROUP_PEER_OFFSET)


def _payload(raw: Any) -> dict[str, Any] | None:
    """A button's payload: VK sends it as a JSON string (ValueError when it is not JSON)."""
    if raw is None:
        return None
    value = load_json(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else None


def _int(value: Any) -> int:
    """A size or dimension; missing or not an integer counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _without_caption(event: Event) -> Event:
    if isinstance(event, Photo):
        return Photo(event.file, event.media_group_id, None)
    if isinstance(event, Document):
        return Document(event.file, event.media_group_id, None)
    return event


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
