"""A person in a VK community: Callback API events POSTed with the group's secret, answers read from the fake
VK API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from crm_plugin.core.models import Platform
from tests.store_helpers import configure

from ..fakes.vk import FakeVk
from .people import Btn, Person, Seen, ids
from .world import Flow

VK_SECRET = "vk-secret"


class VkUser(Person):
    def __init__(self, flow: Flow, bot_id: int, fake: FakeVk, user_id: int) -> None:
        super().__init__(flow, bot_id, str(user_id))
        self.fake, self.id = fake, user_id

    def _event(self, kind: str, obj: dict[str, Any]) -> bytes:
        return json.dumps({"group_id": self.fake.group_id, "type": kind, "event_id": uuid.uuid4().hex, "v": "5.199",
                           "object": obj, "secret": VK_SECRET}, ensure_ascii=False).encode()

    def _message_new(self, text: str = "", **fields: Any) -> None:
        number = next(ids)
        message = {"date": int(time.time()), "from_id": self.id, "id": number, "out": 0, "attachments": [],
                   "conversation_message_id": number, "peer_id": self.id, "random_id": 0, "text": text, **fields}
        client_info = {"button_actions": ["text", "location", "open_link", "callback"], "keyboard": True,
                       "inline_keyboard": True, "carousel": True, "lang_id": 0}
        response = self._deliver(self._event("message_new", {"message": message, "client_info": client_info}))
        assert response.get_data(as_text=True) == "ok"  # VK retries anything else

    def start(self, ref: str | None = None) -> None:
        self._message_new("Начать", payload=json.dumps({"command": "start"}), **({"ref": ref} if ref else {}))

    def open_invite(self, token: str) -> None:
        self.start(token)  # vk.me/club…?ref=<token>: the "Начать" message carries the ref

    def text(self, text: str) -> None:
        self._message_new(text)

    def press(self, payload: str) -> None:
        """An inline (callback) button: a message_event, nothing posted into the chat."""
        obj = {"user_id": self.id, "peer_id": self.id, "event_id": uuid.uuid4().hex[:12],
               "payload": {"cmd": payload}, "conversation_message_id": next(ids)}
        self._deliver(self._event("message_event", obj))

    def _press(self, button: Btn) -> None:
        if button.kind == "text":  # a keyboard under the input field: a message with the button's payload
            self._message_new(button.label, payload=json.dumps({"cmd": button.payload}))
        else:
            self.press(button.payload or "")

    def send_photos(self, contents: list[bytes], *, caption: str = "") -> None:
        """VK sends an album as one message with several photo attachments."""
        attachments = []
        for content in contents:
            number = next(ids)
            url = self.fake.add_file(content, f"in-photo{number}.jpg")
            attachments.append({"type": "photo", "photo": {"id": number, "owner_id": self.id, "album_id": -3, "sizes": [
                {"type": "s", "width": 75, "height": 56, "url": url + "?small"}, {"type": "z", "width": 1280,
                                                                                  "height": 960, "url": url}]}})
        self._message_new(caption, attachments=attachments)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        number = next(ids)
        url = self.fake.add_file(content, f"in-doc{number}")
        doc = {"id": number, "owner_id": self.id, "title": name, "size": len(content), "ext": name.rsplit(".", 1)[-1],
               "type": 1, "url": url}
        self._message_new("", attachments=[{"type": "doc", "doc": doc}])

    def send_location(self, latitude: float, longitude: float) -> None:
        self._message_new("", geo={"type": "point", "coordinates": {"latitude": latitude, "longitude": longitude}})

    def inbox(self) -> list[Seen]:
        return [_seen(m) for m in self.fake.sent_messages(self.id)]


def _seen(message: Any) -> Seen:
    rows = []
    for row in (message.keyboard or {}).get("buttons", []):
        buttons = []
        for cell in row:
            action = cell["action"]
            payload = json.loads(action["payload"])["cmd"] if action.get("payload") else None
            kind = {"callback": "payload", "text": "text", "open_link": "url", "location": "location"}[action["type"]]
            buttons.append(Btn(action.get("label", ""), kind, payload, action.get("link")))
        rows.append(buttons)
    files = [("photo" if a.startswith("photo") else "document", True) for a in message.attachments]
    return Seen(message.text or "", rows, files, message.location, message)


@pytest.fixture(name="vk")
def vk_fixture() -> Iterator[FakeVk]:
    # VK counts every call of a token (20 a second), the button acknowledgements too, and these tests tap far
    # faster than a person: twice the budget keeps one error 6 (a one-second retry) out of a test's time.
    with FakeVk(per_token=(40, 1.0)) as fake:
        yield fake


def vk_bot(flow: Flow, fake: FakeVk) -> int:
    """A VK community bot of the plugin pointed at the fake VK API."""
    configure(flow.app, vk_api_url=fake.api_url)
    return flow.bot(Platform.VK, fake.credentials(secret=VK_SECRET), username=f"club{fake.group_id}")
