"""End-to-end flow drivers: a person on Telegram, VK, Viber or Slack whose every action is a platform update
POSTed, validly signed, to the plugin's webhook route; the real delivery worker then runs the bot and sends
the replies through the real client library (telebot, vk_api, viberbot, slack_sdk) to the platform's fake.
What the fake received comes back as ``Seen`` messages, so a test taps buttons by the labels people read.

Speed: the worker paces each chat to the platform's real ~1 message a second, and a job card is a text plus a
location pin; so the worker's per-chat pace is raised (``Policy.per_chat_rate``) and the fakes' per-chat
windows widened to match (FakeTelegram ``per_chat``, FakeSlack ``per_channel``). Per-bot limits stay real.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin.bot import make_invite
from crm_plugin.bot.context import company_tz
from crm_plugin.channels.viber_inbound import SHARE_PHONE_TRACKING
from crm_plugin.delivery.sender import Policy
from crm_plugin.delivery.worker import Worker
from crm_plugin.host import Job, JobKind, JobQuery, JobStatus, Role
from crm_plugin.models import Bot, Direction, EmployeeLink, Message, MessageStatus, Platform

from .admin_helpers import add_user, login, post
from .bot_helpers import World
from .fakes.server import SlidingWindow
from .fakes.slack import FakeSlack
from .fakes.telegram import FakeTelegram
from .fakes.viber import FakeViber
from .fakes.vk import FakeVk

FAST_CHAT_RATE = 50.0  # messages a second to one chat, for the worker and the fakes (see the docstring)
TELEGRAM_SECRET, VK_SECRET, VIBER_TOKEN, SLACK_SIGNING = "tg-secret", "vk-secret", "viber-token", "slack-signing"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_ids = itertools.count(700_001)


@dataclass
class Flow(World):
    """The demo CRM with the plugin, a test client for webhooks and the real worker, drained after each action."""

    client: Any = None
    worker: Any = None

    def __post_init__(self) -> None:
        self.client = self.app.test_client()
        self.worker = Worker.for_app(self.app, poll=0.05,
                                     policy=Policy(per_chat_rate=FAST_CHAT_RATE, backoff_base=0.05))

    def run(self) -> None:
        """Until the bot has answered everything and every answer is delivered; a crash of the bot fails."""
        assert self.worker.drain(timeout=15), "the worker did not empty the queue"
        with self.state.db.session() as session:
            failed = [(m.direction.value, m.preview, m.error) for m in session.scalars(
                select(Message).where(Message.status == MessageStatus.FAILED))]
        assert not failed, failed

    def bot(self, platform: Platform, credentials: dict[str, str], *, webhook_secret: str | None = None,
            username: str | None = None) -> int:
        with self.state.db.session() as session:
            row = Bot(platform=platform, name=platform.value, username=username, webhook_secret=webhook_secret,
                      credentials_encrypted=self.state.secrets.seal(credentials))
            session.add(row)
            session.flush()
            return row.id

    def invite(self, bot_id: int, crm_user_id: int) -> str:
        with self.state.db.session() as session:
            return make_invite(session, session.get(Bot, bot_id), crm_user_id)

    def link(self, bot_id: int, crm_user_id: int) -> EmployeeLink | None:
        with self.state.db.session() as session:
            return session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                              EmployeeLink.crm_user_id == crm_user_id)).first()

    def jobs_of(self, assignee_id: int) -> list[Job]:
        with self.app.app_context():
            return self.state.gateway.list_jobs(JobQuery(assignee_id=assignee_id))

    def incoming(self, bot_id: int) -> list[Message]:
        with self.state.db.session() as session:
            return list(session.scalars(select(Message).where(Message.bot_id == bot_id,
                                                              Message.direction == Direction.IN)))


def manager_client(flow: Flow) -> FlaskClient:
    """A manager logged into the demo CRM's own pages."""
    add_user(flow.app, "manager", roles=(Role.MANAGER,), full_name="Гареева Алсу")
    client = flow.app.test_client()
    login(client, "manager")
    return client


def block_in_admin(flow: Flow, link_id: int) -> None:
    """The CRM admin ticks the employee on «Боты, Пользователи → Сотрудники» and chooses «Заблокировать»."""
    add_user(flow.app, "boss", admin=True)
    admin = flow.app.test_client()
    login(admin, "boss")
    response = post(admin, "/employees/action/", {"action": "block", "rowid": [str(link_id)]},
                    token_from="/employees/", follow_redirects=True)
    assert "Заблокировано: 1" in response.get_data(as_text=True)


@pytest.fixture(name="flow")
def flow_fixture(app: Flask) -> Iterator[Flow]:
    world = Flow(app)
    yield world
    world.worker.stop()


# --- what a person sees -------------------------------------------------------------------------------

@dataclass
class Btn:
    label: str
    kind: str  # "payload" | "text" (a keyboard button that sends its label) | "url" | "contact" | "location"
    payload: str | None = None
    url: str | None = None


@dataclass
class Seen:
    """One message the platform got for the person, whatever the platform."""

    text: str = ""
    buttons: list[list[Btn]] = field(default_factory=list)
    files: list[tuple[str, bool]] = field(default_factory=list)  # (photo | document, uploaded as bytes)
    location: tuple[float, float] | None = None
    raw: Any = None

    def labels(self) -> list[str]:
        return [b.label for row in self.buttons for b in row]


class Person:
    """An account on a messenger. Subclasses post the platform's JSON; ``tap`` presses what a label names."""

    def __init__(self, flow: Flow, bot_id: int, user_id: str, chat_id: str | None = None) -> None:
        self.flow, self.bot_id, self.user_id = flow, bot_id, user_id
        self.chat_id = chat_id or user_id
        self.taps = 0
        self._mark = 0

    def inbox(self) -> list[Seen]:
        raise NotImplementedError

    def press(self, payload: str) -> None:
        raise NotImplementedError

    def _press(self, button: Btn) -> None:
        self.press(button.payload or "")

    def mark(self) -> None:
        """From here on ``last_replies`` holds only what arrives next."""
        self._mark = len(self.inbox())

    def last_replies(self) -> list[Seen]:
        return self.inbox()[self._mark:]

    def texts(self) -> list[str]:
        return [m.text for m in self.last_replies() if m.text]

    def last_text(self) -> str:
        found = self.texts()
        assert found, f"no text since the last action: {self.last_replies()}"
        return found[-1]

    def button(self, label: str, *, earlier: bool = False) -> Btn:
        """The newest button with this label since the last action (``earlier``: anywhere in the chat, as
        when a person scrolls up to an older message)."""
        for message in reversed(self.inbox() if earlier else self.last_replies()):
            for button in (b for row in message.buttons for b in row):
                if button.label == label:
                    return button
        raise AssertionError(f"no button {label!r} in {[m.labels() for m in self.last_replies()]}")

    def tap(self, label: str, *, earlier: bool = False) -> None:
        button = self.button(label, earlier=earlier)
        self.taps += 1
        self._press(button)

    def job_ids(self) -> list[int]:
        return [int(b.payload.split(":")[1]) for m in self.last_replies() for row in m.buttons for b in row
                if b.payload and b.payload.startswith("job:")]

    def _post(self, body: bytes, headers: dict[str, str]) -> Any:
        response = self.flow.client.post(f"/crm-plugin/webhook/{self.bot_id}", data=body,
                                         headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    def _deliver(self, *bodies: bytes) -> Any:
        """One action (an album may be several updates): posted, then the worker runs until idle."""
        self.mark()
        responses = [self._post(body, self._sign(body)) for body in bodies]
        self.flow.run()
        return responses[-1]

    def _sign(self, body: bytes) -> dict[str, str]:
        return {}


# --- Telegram -----------------------------------------------------------------------------------------

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
        return {"update_id": next(_ids), "message": {"message_id": next(_ids), "from": self.user, "chat": self.chat,
                                                     "date": int(time.time()), **fields}}

    def _send(self, *updates: dict[str, Any]) -> Any:
        return self._deliver(*(json.dumps(u, ensure_ascii=False).encode() for u in updates))

    def start(self, payload: str | None = None) -> None:
        text = f"/start {payload}" if payload else "/start"
        self._send(self._message(text=text, entities=[{"offset": 0, "length": 6, "type": "bot_command"}]))

    def text(self, text: str) -> None:
        self._send(self._message(text=text))

    def press(self, payload: str) -> None:
        shown = self.fake.sent_messages(self.chat_id)
        message = {"message_id": shown[-1].message_id if shown else 1, "date": int(time.time()), "chat": self.chat,
                   "from": {"id": 123456, "is_bot": True, "first_name": "CRM Бот"}, "text": "…"}
        self._send({"update_id": next(_ids), "callback_query": {
            "id": str(next(_ids)), "from": self.user, "message": message, "chat_instance": "-73591584", "data": payload}})

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
        group = str(next(_ids)) if album and len(contents) > 1 else None
        updates = []
        for index, content in enumerate(contents):
            file_id = self.fake.add_file(content, file_path=f"photos/file_{next(_ids)}.jpg")
            sizes = [{"file_id": f"{file_id}-s", "file_unique_id": "s", "width": 90, "height": 68, "file_size": 900},
                     {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1280, "height": 960,
                      "file_size": len(content)}]
            extra = {"caption": caption} if caption and index == 0 else {}
            updates.append(self._message(photo=sizes, **({"media_group_id": group} if group else {}), **extra))
        self._send(*updates)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        file_id = self.fake.add_file(content, file_path=f"documents/{next(_ids)}_{name}")
        self._send(self._message(document={"file_name": name, "mime_type": mime, "file_id": file_id,
                                           "file_unique_id": f"u{file_id}", "file_size": len(content)}))

    def send_location(self, latitude: float, longitude: float) -> None:
        self._send(self._message(location={"latitude": latitude, "longitude": longitude}))

    def inbox(self) -> list[Seen]:
        return [_telegram_seen(m) for m in self.fake.sent_messages(self.chat_id)]


def _telegram_seen(message: Any) -> Seen:
    markup = message.reply_markup or {}
    rows = [[Btn(b["text"], "url" if b.get("url") else "payload", b.get("callback_data"), b.get("url")) for b in row]
            for row in markup.get("inline_keyboard", [])]
    rows += [[Btn(b["text"], "contact" if b.get("request_contact") else "location" if b.get("request_location")
                  else "text") for b in row] for row in markup.get("keyboard", [])]
    return Seen(message.text or message.caption or "", rows, [(f.kind, f.uploaded) for f in message.files],
                message.location, message)


# --- VK -------------------------------------------------------------------------------------------------

class VkUser(Person):
    def __init__(self, flow: Flow, bot_id: int, fake: FakeVk, user_id: int) -> None:
        super().__init__(flow, bot_id, str(user_id))
        self.fake, self.id = fake, user_id

    def _event(self, kind: str, obj: dict[str, Any]) -> bytes:
        return json.dumps({"group_id": self.fake.group_id, "type": kind, "event_id": uuid.uuid4().hex, "v": "5.199",
                           "object": obj, "secret": VK_SECRET}, ensure_ascii=False).encode()

    def _message_new(self, text: str = "", **fields: Any) -> None:
        number = next(_ids)
        message = {"date": int(time.time()), "from_id": self.id, "id": number, "out": 0, "attachments": [],
                   "conversation_message_id": number, "peer_id": self.id, "random_id": 0, "text": text, **fields}
        client_info = {"button_actions": ["text", "location", "open_link", "callback"], "keyboard": True,
                       "inline_keyboard": True, "carousel": True, "lang_id": 0}
        response = self._deliver(self._event("message_new", {"message": message, "client_info": client_info}))
        assert response.get_data(as_text=True) == "ok"  # VK retries anything else

    def start(self, ref: str | None = None) -> None:
        self._message_new("Начать", payload=json.dumps({"command": "start"}), **({"ref": ref} if ref else {}))

    def text(self, text: str) -> None:
        self._message_new(text)

    def press(self, payload: str) -> None:
        """An inline (callback) button: a message_event, nothing posted into the chat."""
        obj = {"user_id": self.id, "peer_id": self.id, "event_id": uuid.uuid4().hex[:12],
               "payload": {"cmd": payload}, "conversation_message_id": next(_ids)}
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
            number = next(_ids)
            url = self.fake.add_file(content, f"in-photo{number}.jpg")
            attachments.append({"type": "photo", "photo": {"id": number, "owner_id": self.id, "album_id": -3, "sizes": [
                {"type": "s", "width": 75, "height": 56, "url": url + "?small"}, {"type": "z", "width": 1280,
                                                                                  "height": 960, "url": url}]}})
        self._message_new(caption, attachments=attachments)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        number = next(_ids)
        url = self.fake.add_file(content, f"in-doc{number}")
        doc = {"id": number, "owner_id": self.id, "title": name, "size": len(content), "ext": name.rsplit(".", 1)[-1],
               "type": 1, "url": url}
        self._message_new("", attachments=[{"type": "doc", "doc": doc}])

    def send_location(self, latitude: float, longitude: float) -> None:
        self._message_new("", geo={"type": "point", "coordinates": {"latitude": latitude, "longitude": longitude}})

    def inbox(self) -> list[Seen]:
        return [_vk_seen(m) for m in self.fake.sent_messages(self.id)]


def _vk_seen(message: Any) -> Seen:
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


# --- Viber ----------------------------------------------------------------------------------------------

class ViberUser(Person):
    def __init__(self, flow: Flow, bot_id: int, fake: FakeViber, user_id: str, name: str = "Иван Петров") -> None:
        super().__init__(flow, bot_id, user_id)
        self.fake = fake
        self.profile = {"id": user_id, "name": name, "language": "ru", "country": "RU", "api_version": 10}

    def _sign(self, body: bytes) -> dict[str, str]:
        return {"X-Viber-Content-Signature": hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()}

    def _body(self, message: dict[str, Any]) -> bytes:
        return json.dumps({"event": "message", "timestamp": int(time.time() * 1000), "chat_hostname": "SN-1_",
                           "message_token": next(_ids), "sender": self.profile, "message": message,
                           "silent": False}, ensure_ascii=False).encode()

    def _message(self, message: dict[str, Any]) -> None:
        self._deliver(self._body(message))

    def open_chat(self, context: str | None = None) -> dict[str, Any]:
        """conversation_started of a person not subscribed yet: the answer is the welcome message itself."""
        body = json.dumps({"event": "conversation_started", "timestamp": int(time.time() * 1000), "type": "open",
                           "message_token": next(_ids), "context": context, "user": self.profile,
                           "subscribed": False}, ensure_ascii=False).encode()
        return self._deliver(body).get_json()  # type: ignore[no-any-return]

    def start(self, payload: str | None = None) -> None:
        """The welcome message's start button (its ActionBody carries the deep-link context)."""
        self.text(f"start:{payload or ''}")

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
            name = f"in-{next(_ids)}.jpg"
            bodies.append(self._body({"type": "picture", "text": "", "file_name": name, "file_size": len(content),
                                      "media": self.fake.add_media(name, content, "image/jpeg")}))
        self._deliver(*bodies)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        url = self.fake.add_media(f"in-{next(_ids)}", content, mime)
        self._message({"type": "file", "media": url, "file_name": name, "file_size": len(content)})

    def send_location(self, latitude: float, longitude: float) -> None:
        self._message({"type": "location", "location": {"lat": latitude, "lon": longitude}})

    def inbox(self) -> list[Seen]:
        return [_viber_seen(m) for m in self.fake.sent if m["receiver"] == self.user_id]


def _viber_seen(message: dict[str, Any]) -> Seen:
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


# --- Slack ----------------------------------------------------------------------------------------------

class SlackUser(Person):
    """A person writing to the Slack app: direct messages (chat id = the DM channel) and button clicks."""

    def __init__(self, flow: Flow, bot_id: int, fake: FakeSlack, user_id: str, dm_channel: str) -> None:
        super().__init__(flow, bot_id, user_id, dm_channel)
        self.fake = fake

    def _sign(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        digest = hmac.new(SLACK_SIGNING.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}

    def message(self, text: str, channel: str, channel_type: str, *, event_id: str | None = None) -> str:
        """A message event (Slack retries one with the same event_id); returns the event_id."""
        ts = f"{time.time():.6f}"
        event = {"type": "message", "text": text, "user": self.user_id, "ts": ts, "channel": channel,
                 "event_ts": ts, "channel_type": channel_type}
        event_id = event_id or f"Ev{next(_ids)}"
        self._deliver(json.dumps({"type": "event_callback", "team_id": self.fake.team_id, "event": event,
                                  "event_id": event_id, "event_time": int(time.time())}, ensure_ascii=False).encode())
        return event_id

    def text(self, text: str) -> None:
        self.message(text, self.chat_id, "im")

    def press(self, payload: str) -> None:
        action = {"action_id": "crm_0_0", "type": "button", "value": payload, "action_ts": f"{time.time():.6f}"}
        payload_json = {"type": "block_actions", "user": {"id": self.user_id, "name": "ivan"},
                        "channel": {"id": self.chat_id}, "container": {"channel_id": self.chat_id},
                        "actions": [action]}
        body = urlencode({"payload": json.dumps(payload_json, ensure_ascii=False)}).encode()
        self.mark()
        self._post(body, {"Content-Type": "application/x-www-form-urlencoded", **self._sign(body)})
        self.flow.run()

    def inbox(self) -> list[Seen]:
        return [_slack_seen(m) for m in self.fake.messages if m["channel"] == self.chat_id]


def _slack_seen(message: dict[str, Any]) -> Seen:
    rows = [[Btn(e["text"]["text"], "url" if e.get("url") else "payload", e.get("value"), e.get("url"))
             for e in block["elements"]] for block in message.get("blocks") or [] if block["type"] == "actions"]
    return Seen(message.get("text") or "", rows, raw=message)


# --- fakes, relaxed per chat ----------------------------------------------------------------------------

@pytest.fixture(name="telegram")
def telegram_fixture() -> Iterator[FakeTelegram]:
    with FakeTelegram(per_chat=(int(FAST_CHAT_RATE), 1.0)) as fake:
        yield fake


@pytest.fixture(name="vk")
def vk_fixture() -> Iterator[FakeVk]:
    # VK counts every call of a token (20 a second), the button acknowledgements too, and these tests tap far
    # faster than a person: twice the budget keeps one error 6 (a one-second retry) out of a test's time.
    with FakeVk(per_token=(40, 1.0)) as fake:
        yield fake


@pytest.fixture(name="viber")
def viber_fixture() -> Iterator[FakeViber]:
    with FakeViber(token=VIBER_TOKEN) as fake:
        yield fake


@pytest.fixture(name="slack")
def slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.per_channel = SlidingWindow(int(FAST_CHAT_RATE), 1.0)
        yield fake


# --- bots pointed at the fakes --------------------------------------------------------------------------

def telegram_bot(flow: Flow, fake: FakeTelegram) -> int:
    flow.app.config["CRM_PLUGIN_TELEGRAM_API_URL"] = fake.url
    return flow.bot(Platform.TELEGRAM, {"token": fake.token}, webhook_secret=TELEGRAM_SECRET,
                    username="crm_test_bot")


def vk_bot(flow: Flow, fake: FakeVk) -> int:
    flow.app.config["CRM_PLUGIN_VK_API_URL"] = fake.api_url
    return flow.bot(Platform.VK, fake.credentials(secret=VK_SECRET), username=f"club{fake.group_id}")


def viber_bot(flow: Flow, fake: FakeViber) -> int:
    flow.app.config["CRM_PLUGIN_VIBER_API_URL"] = f"{fake.url}/pa/"
    flow.app.config["CRM_PLUGIN_PUBLIC_URL"] = "https://crm.example"  # Viber fetches files the plugin serves
    return flow.bot(Platform.VIBER, {"token": VIBER_TOKEN, "name": "Окна CRM"}, username="oknacrm")


def slack_bot(flow: Flow, fake: FakeSlack) -> int:
    flow.app.config["CRM_PLUGIN_SLACK_API_URL"] = f"{fake.url}/api/"
    return flow.bot(Platform.SLACK, {"token": fake.token, "signing_secret": SLACK_SIGNING})


# --- job lists around the company's day boundaries ------------------------------------------------------

LIST_LABELS = {"new": "Новые заявки", "today": "Сегодня", "tomorrow": "Завтра", "upcoming": "Предстоящие",
               "done": "Выполненные за 40 дней"}


def local_moment(flow: Flow, days: int, hour: int, minute: int) -> datetime:
    """``days`` from today in the company's zone (CRM_PLUGIN_TIMEZONE), at hour:minute there, in UTC."""
    tz = company_tz(flow.app.config)
    day = datetime.now(tz).date() + timedelta(days=days)
    return datetime.combine(day, dtime(hour, minute), tzinfo=tz).astimezone(UTC)


def boundary_jobs(flow: Flow, kind: JobKind, worker: int, colleague: int) -> dict[str, set[int]]:
    """Jobs of ``kind`` a minute on both sides of each boundary; returns which belong in each list."""
    done = JobStatus.MEASURED if kind is JobKind.MEASUREMENT else JobStatus.INSTALLED

    def job(days: int, hour: int, minute: int, status: JobStatus = JobStatus.SCHEDULED,
            assignee: int | None = worker) -> int:
        return flow.job(kind, local_moment(flow, days, hour, minute), assignee, status)

    job(-1, 23, 59)  # yesterday's last minute: in no list
    today = {job(0, 0, 1), job(0, 23, 59)}
    tomorrow = {job(1, 0, 1), job(1, 23, 59)}
    after_tomorrow = job(2, 0, 1)
    own_new = job(3, 10, 0, JobStatus.NEW)
    free = job(2, 15, 0, JobStatus.NEW, assignee=None)  # a request nobody has taken
    job(0, 12, 0, JobStatus.CANCELLED)
    job(0, 11, 0, assignee=colleague)  # someone else's
    done_today = job(0, 9, 0, done)
    done_in, _done_out = job(-40, 0, 1, done), job(-41, 23, 59, done)
    return {
        "new": {own_new} | ({free} if kind is JobKind.MEASUREMENT else set()),  # only measurers take requests
        "today": today | {done_today},  # done ones stay in the day's list, marked
        "tomorrow": tomorrow,
        "upcoming": today | tomorrow | {after_tomorrow, own_new},
        "done": {done_today, done_in},
    }


def lists_seen(person: Person) -> dict[str, set[int]]:
    """Each list opened from the menu the way a person does it: the list, then back to the menu."""
    seen = {}
    for period, label in LIST_LABELS.items():
        person.tap(label)
        seen[period] = set(person.job_ids())
        person.tap("Меню")
    return seen
