"""Platform-neutral events (what a person did) and replies (what the bot answers).

Channels turn a platform's JSON into events and render replies in the platform's own way; the
conversation logic in crm_plugin.bot sees only these types. Replies are stored in the outbox as JSON
(``reply_to_dict`` / ``reply_from_dict``), so they carry file references, never file bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Sender:
    user_id: str  # the platform's user id
    chat_id: str  # where replies go (equals user_id in private chats on most platforms)
    name: str = ""
    language: str | None = None  # e.g. "ru", "en", from the platform's profile
    is_group: bool = False


@dataclass(frozen=True)
class FileRef:
    """A file on the platform: Telegram file_id, VK/Viber/Slack URL."""

    file_id: str
    name: str | None = None
    content_type: str | None = None
    size: int | None = None


# --- events ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Start:
    payload: str | None = None  # deep-link payload: Telegram ?start=, VK ref, Viber context


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ButtonPress:
    payload: str
    callback_id: str | None = None  # Telegram callback_query id, to answer it


@dataclass(frozen=True)
class Contact:
    phone: str
    own: bool  # the sender shared their own contact (Telegram: contact.user_id == from.id)


@dataclass(frozen=True)
class Photo:
    file: FileRef
    media_group_id: str | None = None  # photos of one album share it
    caption: str | None = None


@dataclass(frozen=True)
class Document:
    file: FileRef
    media_group_id: str | None = None
    caption: str | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


Event = Union[Start, Text, ButtonPress, Contact, Photo, Document, Location]


@dataclass(frozen=True)
class Inbound:
    """One event from one person, as a channel parsed it from a request."""

    sender: Sender
    event: Event
    message_id: str | None = None


# --- replies --------------------------------------------------------------------------------------

class ButtonKind(str, enum.Enum):
    PAYLOAD = "payload"  # pressing it sends ButtonPress(payload)
    URL = "url"
    REQUEST_CONTACT = "request_contact"
    REQUEST_LOCATION = "request_location"


@dataclass(frozen=True)
class Button:
    label: str
    kind: ButtonKind = ButtonKind.PAYLOAD
    payload: str | None = None
    url: str | None = None

    @classmethod
    def action(cls, label: str, payload: str) -> Button:
        return cls(label, ButtonKind.PAYLOAD, payload=payload)

    @classmethod
    def link(cls, label: str, url: str) -> Button:
        return cls(label, ButtonKind.URL, url=url)

    @classmethod
    def share_contact(cls, label: str) -> Button:
        return cls(label, ButtonKind.REQUEST_CONTACT)

    @classmethod
    def share_location(cls, label: str) -> Button:
        return cls(label, ButtonKind.REQUEST_LOCATION)


Keyboard = tuple[tuple[Button, ...], ...]  # rows of buttons

# A platform with no "share my phone" button (VK) renders a request-contact button as a payload button
# carrying this payload; the bot answers its press by asking to type the phone or login.
REQUEST_CONTACT_FALLBACK = "request_contact"


@dataclass(frozen=True)
class TextReply:
    text: str
    buttons: Keyboard = ()
    # Take away a keyboard an earlier reply left under the input field (Telegram's reply keyboard, VK's
    # one-time keyboard): the bot sets it on the first reply without buttons after one (crm_plugin.bot.keyboards
    # remembers that in the chat's stored state). Platforms without such keyboards ignore it.
    remove_keyboard: bool = False


class FileKindOut(str, enum.Enum):
    PHOTO = "photo"
    DOCUMENT = "document"


@dataclass(frozen=True)
class OutFile:
    """A CRM file to send; the worker reads its bytes through the gateway or reuses a platform file id."""

    kind: FileKindOut
    crm_file_id: int
    name: str
    content_type: str


@dataclass(frozen=True)
class MediaReply:
    """One or more files: several photos go as one album where the platform has albums."""

    files: tuple[OutFile, ...]
    caption: str | None = None


@dataclass(frozen=True)
class LocationReply:
    latitude: float
    longitude: float
    title: str | None = None


@dataclass(frozen=True)
class StatsReply:
    """A statistics answer: a chart image with ``text`` as its caption where the platform's caption limit
    allows (the rest follows as a text message), ``buttons`` under the last message.

    ``chart_key`` names the chart in crm_plugin.delivery.charts (stored with the reply's transaction, rendered
    to PNG once in the worker, uploaded once per bot where the platform keeps files); None, or a chart that
    cannot be rendered, sends the text alone: a chart is never the reason a message is lost.
    """

    text: str
    chart_key: str | None = None
    buttons: Keyboard = ()


Reply = Union[TextReply, MediaReply, LocationReply, StatsReply]

_REPLY_TYPES: dict[str, type] = {"text": TextReply, "media": MediaReply, "location": LocationReply,
                                 "stats": StatsReply}
_REPLY_KINDS = {cls: kind for kind, cls in _REPLY_TYPES.items()}


def reply_kind(reply: Reply) -> str:
    return _REPLY_KINDS[type(reply)]


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """The reply as the outbox stores it: ``type``, then its fields in declaration order, buttons and files as
    dicts, rows as lists, enums as their values. Written out field by field: ``dataclasses.asdict`` deep-copies
    every button, which cost a turn a tenth of a millisecond for a menu."""
    kind = reply_kind(reply)
    if isinstance(reply, TextReply):
        return {"type": kind, "text": reply.text, "buttons": _keyboard_dicts(reply.buttons),
                "remove_keyboard": reply.remove_keyboard}
    if isinstance(reply, MediaReply):
        return {"type": kind, "files": [{"kind": _value(f.kind), "crm_file_id": f.crm_file_id, "name": f.name,
                                         "content_type": f.content_type} for f in reply.files],
                "caption": reply.caption}
    if isinstance(reply, LocationReply):
        return {"type": kind, "latitude": reply.latitude, "longitude": reply.longitude, "title": reply.title}
    return {"type": kind, "text": reply.text, "chart_key": reply.chart_key, "buttons": _keyboard_dicts(reply.buttons)}


def reply_from_dict(data: dict[str, Any]) -> Reply:
    kind = data["type"]
    if kind == "text":
        return TextReply(data["text"], _keyboard(data.get("buttons", ())), bool(data.get("remove_keyboard", False)))
    if kind == "media":
        files = tuple(OutFile(FileKindOut(f["kind"]), f["crm_file_id"], f["name"], f["content_type"])
                      for f in data["files"])
        return MediaReply(files, data.get("caption"))
    if kind == "location":
        return LocationReply(data["latitude"], data["longitude"], data.get("title"))
    if kind == "stats":
        return StatsReply(data["text"], data.get("chart_key"), _keyboard(data.get("buttons", ())))
    raise ValueError(f"unknown reply type {kind!r}")


def _keyboard_dicts(rows: Keyboard) -> list[list[dict[str, Any]]]:
    return [[{"label": b.label, "kind": _value(b.kind), "payload": b.payload, "url": b.url} for b in row]
            for row in rows]


def _value(kind: Any) -> Any:
    """An enum member as its value (what JSON stores); anything else as it is."""
    return kind.value if isinstance(kind, enum.Enum) else kind


def _keyboard(rows: Any) -> Keyboard:
    return tuple(tuple(Button(b["label"], ButtonKind(b["kind"]), b.get("payload"), b.get("url")) for b in row)
                 for row in rows)


PREVIEW_LENGTH = 500  # the message log's preview column (crm_plugin.core.models.Message.preview)


def preview_text(text: str) -> str:
    """``text`` cut to the preview's length, the cut marked with "…"."""
    return text if len(text) <= PREVIEW_LENGTH else text[:PREVIEW_LENGTH - 1] + "…"


def reply_preview(reply: Reply) -> str:
    """A short human text for the message log."""
    if isinstance(reply, TextReply):
        return preview_text(reply.text)
    if isinstance(reply, MediaReply):
        names = ", ".join(f.name for f in reply.files)
        return preview_text(f"[{len(reply.files)} файл(ов)] {reply.caption or ''} {names}".strip())
    if isinstance(reply, StatsReply):
        return preview_text(f"[график] {reply.text}" if reply.chart_key else reply.text)
    return preview_text(f"[геоточка] {reply.latitude:.5f}, {reply.longitude:.5f} {reply.title or ''}".strip())


def event_preview(event: Event) -> tuple[str, str]:
    """(kind, preview) of an incoming event for the message log."""
    kind, text = _event_summary(event)
    return kind, preview_text(text)


def _event_summary(event: Event) -> tuple[str, str]:
    if isinstance(event, Text):
        return "text", event.text
    if isinstance(event, Start):
        return "start", f"/start {event.payload or ''}".strip()
    if isinstance(event, ButtonPress):
        return "button", event.payload
    if isinstance(event, Contact):
        return "contact", f"[контакт] {event.phone}"
    if isinstance(event, Photo):
        return "photo", f"[фото] {event.caption or ''}".strip()
    if isinstance(event, Document):
        return "document", f"[документ] {event.file.name or ''}".strip()
    return "location", f"[геоточка] {event.latitude:.5f}, {event.longitude:.5f}"


# --- checking what a parser made --------------------------------------------------------------------

# The type of each field of the inbound dataclasses, as check_inbound enforces it (None: the field may be empty).
_FIELDS: dict[type, dict[str, tuple[type, ...]]] = {
    Sender: {"user_id": (str,), "chat_id": (str,), "name": (str,), "language": (str, type(None)),
             "is_group": (bool,)},
    FileRef: {"file_id": (str,), "name": (str, type(None)), "content_type": (str, type(None)),
              "size": (int, type(None))},
    Start: {"payload": (str, type(None))},
    Text: {"text": (str,)},
    ButtonPress: {"payload": (str,), "callback_id": (str, type(None))},
    Contact: {"phone": (str,), "own": (bool,)},
    Photo: {"file": (FileRef,), "media_group_id": (str, type(None)), "caption": (str, type(None))},
    Document: {"file": (FileRef,), "media_group_id": (str, type(None)), "caption": (str, type(None))},
    Location: {"latitude": (float, int), "longitude": (float, int)},
    Inbound: {"sender": (Sender,), "message_id": (str, type(None))},
}


def check_inbound(inbound: Inbound) -> Inbound:
    """``inbound`` when every field has its declared type and a location is a real place on Earth; else
    ValueError. Parsers call it last, so the bot never meets a number where it reads text, or ``inf``."""
    _check_fields(inbound)
    event = inbound.event
    if type(event) not in _FIELDS or type(event) is Inbound:
        raise ValueError(f"not an event: {type(event).__name__}")
    _check_fields(event)
    if isinstance(event, (Photo, Document)):
        _check_fields(event.file)
    _check_fields(inbound.sender)
    if isinstance(event, Location):
        try:
            latitude, longitude = float(event.latitude), float(event.longitude)
        except OverflowError as exc:  # an int of 400 digits
            raise ValueError("a coordinate too large") from exc
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # also False for NaN
            raise ValueError(f"no such place: {latitude}, {longitude}")
    return inbound


def _check_fields(item: Any) -> None:
    for name, kinds in _FIELDS[type(item)].items():
        value = getattr(item, name)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ValueError(f"{type(item).__name__}.{name} is a {type(value).__name__}")


__all__ = [
    "Button", "ButtonKind", "ButtonPress", "Contact", "Document", "Event", "FileKindOut", "FileRef", "Inbound",
    "Keyboard", "Location", "LocationReply", "MediaReply", "OutFile", "PREVIEW_LENGTH", "Photo", "Reply", "Sender",
    "Start", "StatsReply", "Text", "TextReply", "check_inbound", "event_preview", "preview_text", "reply_from_dict",
    "reply_kind", "reply_preview", "reply_to_dict",
]
