"""A person on Viber: callbacks POSTed signed with the bot token, answers read from the fake Viber REST API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crm_plugin.channels.viber_inbound import SHARE_PHONE_TRACKING
from crm_plugin.core.models import Platform
from tests.store_helpers import configure

from ..fakes.viber import FakeViber
from .people import Btn, Person, Seen, ids
from .world import Flow

VIBER_TOKEN = "viber-token"


class ViberUser(Person):
    def __init__(self, flow: Flow, bot_id: int, fake: FakeViber, user_id: str, name: str = "Иван Петров") -> None:
        super().__init__(flow, bot_id, user_id)
        self.fake = fake
        self.profile = {"id": user_id, "name": name, "language": "ru", "country": "RU", "api_version": 10}

    def _sign(self, body: bytes) -> dict[str, str]:
        return {"X-Viber-Content-Signature": hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()}

    def _body(self, message: dict[str, Any]) -> bytes:
        return json.dumps({"event": "message", "timestamp": int(time.time() * 1000), "chat_hostname": "SN-1_",
                           "message_token": next(ids), "sender": self.profile, "message": message,
                           "silent": False}, ensure_ascii=False).encode()

    def _message(self, message: dict[str, Any]) -> None:
        self._deliver(self._body(message))

    def open_chat(self, context: str | None = None) -> dict[str, Any]:
        """conversation_started of a person not subscribed yet: the answer is the welcome message itself."""
        body = json.dumps({"event": "conversation_started", "timestamp": int(time.time() * 1000), "type": "open",
                           "message_token": next(ids), "context": context, "user": self.profile,
                           "subscribed": False}, ensure_ascii=False).encode()
        return self._deliver(body).get_json()  # type: ignore[no-any-return]

    def start(self, payload: str | None = None) -> None:
        """The welcome message's start button (its ActionBody carries the deep-link context)."""
        self.text(f"start:{payload or ''}")

    def open_invite(self, token: str) -> None:
        """viber://pa?chatURI=…&context=<token> opens the chat; the welcome's start button carries the context."""
        self.open_chat(token)
        self.start(token)

    def text(self, text: str) -> None:
        self._message({"type": "text", "text": text})

    def press(self, payload: str) -> None:
        self.text(f"btn:{payload}")

    def share_contact(self, phone: str, own: bool = True) -> None:
        message: dict[str, Any] = {"type": "contact", "contact": {"name": self.profile["name"], "phone_number": phone}}
        if own:  # Viber echoes the tracking data of the share-phone keyboard's message
            message["tracking_data"] = SHARE_PHONE_TRACKING
        self._message(message)

    def send_photos(self, contents: list[bytes], **_: Any) -> None:
        """Viber has no albums: one picture message each, sent one right after another."""
        bodies = []
        for content in contents:
            name = f"in-{next(ids)}.jpg"
            bodies.append(self._body({"type": "picture", "text": "", "file_name": name, "file_size": len(content),
                                      "media": self.fake.add_media(name, content, "image/jpeg")}))
        self._deliver(*bodies)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        url = self.fake.add_media(f"in-{next(ids)}", content, mime)
        self._message({"type": "file", "media": url, "file_name": name, "file_size": len(content)})

    def send_location(self, latitude: float, longitude: float) -> None:
        self._message({"type": "location", "location": {"lat": latitude, "lon": longitude}})

    def inbox(self) -> list[Seen]:
        return [_seen(m) for m in self.fake.sent if m["receiver"] == self.user_id]


def _seen(message: dict[str, Any]) -> Seen:
    kinds = {"reply": "payload", "open-url": "url", "share-phone": "contact", "location-picker": "location"}
    buttons = []
    for cell in (message.get("keyboard") or {}).get("Buttons", []):
        body = cell.get("ActionBody", "")
        buttons.append(Btn(cell.get("Text", ""), kinds[cell.get("ActionType", "reply")],
                           body.removeprefix("btn:") if cell.get("ActionType", "reply") == "reply" else None,
                           body if cell.get("ActionType") == "open-url" else None))
    files = [(message["type"] if message["type"] == "picture" else "document", False)] \
        if message["type"] in ("picture", "file") else []
    location = message.get("location")
    return Seen(message.get("text") or "", [buttons] if buttons else [], files,
                (location["lat"], location["lon"]) if location else None, message)


@pytest.fixture(name="viber")
def viber_fixture() -> Iterator[FakeViber]:
    with FakeViber(token=VIBER_TOKEN) as fake:
        yield fake


def viber_bot(flow: Flow, fake: FakeViber) -> int:
    """A Viber bot of the plugin pointed at the fake Viber REST API."""
    configure(flow.app, viber_api_url=f"{fake.url}/pa/")
    configure(flow.app, public_url="https://crm.example")  # Viber fetches files the plugin serves
    return flow.bot(Platform.VIBER, {"token": VIBER_TOKEN, "name": "Окна CRM"}, username="oknacrm")
