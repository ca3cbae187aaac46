"""A person on Telegram: updates POSTed with the webhook's secret token, answers read from the fake Bot API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crm_plugin.core.models import Platform
from tests.store_helpers import configure

from ..fakes.telegram import FakeTelegram
from .people import Btn, Person, Seen, ids
from .world import FAST_CHAT_RATE, Flow

TELEGRAM_SECRET = "tg-secret"


class TelegramUser(Person):
    def __init__(self, flow: Flow, bot_id: int, fake: FakeTelegram, user_id: int, *, chat_id: int | None = None,
                 first_name: str = "Иван", last_name: str = "Петров", language: str = "ru") -> None:
        super().__init__(flow, bot_id, str(user_id), str(chat_id or user_id))
        self.fake = fake
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "last_name": last_name,
                     "language_code": language}
        self.chat = {"id": chat_id or user_id, "type": "private", "first_name": first_name}

    def _sign(self, body: bytes) -> dict[str, str]:
        return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

    def _message(self, **fields: Any) -> dict[str, Any]:
        return {"update_id": next(ids), "message": {"message_id": next(ids), "from": self.user, "chat": self.chat,
                                                    "date": int(time.time()), **fields}}

    def _send(self, *updates: dict[str, Any]) -> Any:
        return self._deliver(*(json.dumps(u, ensure_ascii=False).encode() for u in updates))

    def start(self, payload: str | None = None) -> None:
        text = f"/start {payload}" if payload else "/start"
        self._send(self._message(text=text, entities=[{"offset": 0, "length": 6, "type": "bot_command"}]))

    def open_invite(self, token: str) -> None:
        self.start(token)  # t.me/<bot>?start=<token> sends "/start <token>"

    def text(self, text: str) -> None:
        self._send(self._message(text=text))

    def press(self, payload: str) -> None:
        shown = self.fake.sent_messages(self.chat_id)
        message = {"message_id": shown[-1].message_id if shown else 1, "date": int(time.time()), "chat": self.chat,
                   "from": {"id": 123456, "is_bot": True, "first_name": "CRM Бот"}, "text": "…"}
        self._send({"update_id": next(ids), "callback_query": {
            "id": str(next(ids)), "from": self.user, "message": message, "chat_instance": "-73591584",
            "data": payload}})

    def _press(self, button: Btn) -> None:
        if button.kind == "text":  # a reply-keyboard button sends its label as text
            self.text(button.label)
        else:
            self.press(button.payload or "")

    def share_contact(self, phone: str, own: bool = True) -> None:
        contact = {"phone_number": phone, "first_name": self.user["first_name"],
                   "user_id": self.user["id"] if own else 999_888_777}
        self._send(self._message(contact=contact))

    def send_photos(self, contents: list[bytes], *, album: bool = True, caption: str | None = None) -> None:
        group = str(next(ids)) if album and len(contents) > 1 else None
        updates = []
        for index, content in enumerate(contents):
            file_id = self.fake.add_file(content, file_path=f"photos/file_{next(ids)}.jpg")
            sizes = [{"file_id": f"{file_id}-s", "file_unique_id": "s", "width": 90, "height": 68, "file_size": 900},
                     {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1280, "height": 960,
                      "file_size": len(content)}]
            extra = {"caption": caption} if caption and index == 0 else {}
            updates.append(self._message(photo=sizes, **({"media_group_id": group} if group else {}), **extra))
        self._send(*updates)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        file_id = self.fake.add_file(content, file_path=f"documents/{next(ids)}_{name}")
        self._send(self._message(document={"file_name": name, "mime_type": mime, "file_id": file_id,
                                           "file_unique_id": f"u{file_id}", "file_size": len(content)}))

    def send_location(self, latitude: float, longitude: float) -> None:
        self._send(self._message(location={"latitude": latitude, "longitude": longitude}))

    def inbox(self) -> list[Seen]:
        return [_seen(m) for m in self.fake.sent_messages(self.chat_id)]


def _seen(message: Any) -> Seen:
    markup = message.reply_markup or {}
    rows = [[Btn(b["text"], "url" if b.get("url") else "payload", b.get("callback_data"), b.get("url")) for b in row]
            for row in markup.get("inline_keyboard", [])]
    rows += [[Btn(b["text"], "contact" if b.get("request_contact") else "location" if b.get("request_location")
                  else "text") for b in row] for row in markup.get("keyboard", [])]
    return Seen(message.text or message.caption or "", rows, [(f.kind, f.uploaded) for f in message.files],
                message.location, message)


@pytest.fixture(name="telegram")
def telegram_fixture() -> Iterator[FakeTelegram]:
    with FakeTelegram(per_chat=(int(FAST_CHAT_RATE), 1.0)) as fake:
        yield fake


def telegram_bot(flow: Flow, fake: FakeTelegram) -> int:
    """A Telegram bot of the plugin pointed at the fake Bot API."""
    configure(flow.app, telegram_api_url=fake.url)
    return flow.bot(Platform.TELEGRAM, {"token": fake.token}, webhook_secret=TELEGRAM_SECRET,
                    username="crm_test_bot")
