"""A person writing to the Slack app: Events API callbacks and button clicks POSTed with a v0 signature,
answers read from the fake Web API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from crm_plugin.core.models import Platform
from tests.store_helpers import configure

from ..fakes.server import SlidingWindow
from ..fakes.slack import FakeSlack
from .people import Btn, Person, Seen, ids
from .world import FAST_CHAT_RATE, Flow

SLACK_SIGNING = "slack-signing"


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
        return self._callback(event, event_id)

    def _callback(self, event: dict[str, Any], event_id: str | None = None) -> str:
        event_id = event_id or f"Ev{next(ids)}"
        self._deliver(json.dumps({"type": "event_callback", "team_id": self.fake.team_id, "event": event,
                                  "event_id": event_id, "event_time": int(time.time())}, ensure_ascii=False).encode())
        return event_id

    def text(self, text: str) -> None:
        self.message(text, self.chat_id, "im")

    def bind_by_code(self, login: str, crm_user_id: int) -> SlackUser:
        """Bound by login and the one-time code the CRM delivers (Slack has no start link for an invite)."""
        self.text(login)
        [code] = self.flow.login_codes(crm_user_id)
        self.text(code)
        assert "Готово! Вы вошли как" in self.last_text()
        return self

    def share_files(self, files: list[tuple[str, bytes, str]], *, caption: str = "") -> None:
        """Files (name, bytes, MIME type) shared in the DM in one message, as the Events API delivers it: a
        ``file_share`` message whose ``files`` point at the fake's private URLs (they need the bot token)."""
        shared = [self.fake.shared_file(name, content, mime, user=self.user_id) for name, content, mime in files]
        ts = f"{time.time():.6f}"
        self._callback({"type": "message", "subtype": "file_share", "text": caption, "user": self.user_id,
                        "upload": False, "files": shared, "ts": ts, "channel": self.chat_id, "event_ts": ts,
                        "channel_type": "im"})

    def send_photos(self, contents: list[bytes], *, caption: str = "") -> None:
        """Several photos dropped into the DM together arrive as one message with several files."""
        self.share_files([(f"in-{next(ids)}.jpg", content, "image/jpeg") for content in contents], caption=caption)

    def send_document(self, name: str, content: bytes, mime: str) -> None:
        self.share_files([(name, content, mime)])

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
        return [_seen(m) for m in self.fake.messages if m["channel"] == self.chat_id]


def _seen(message: dict[str, Any]) -> Seen:
    rows = [[Btn(e["text"]["text"], "url" if e.get("url") else "payload", e.get("value"), e.get("url"))
             for e in block["elements"]] for block in message.get("blocks") or [] if block["type"] == "actions"]
    return Seen(message.get("text") or "", rows, raw=message)


@pytest.fixture(name="slack")
def slack_fixture() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.per_channel = SlidingWindow(int(FAST_CHAT_RATE), 1.0)
        yield fake


def slack_bot(flow: Flow, fake: FakeSlack, *, leads_enabled: bool = True) -> int:
    """A Slack app of the plugin pointed at the fake Web API; its channel messages become leads."""
    configure(flow.app, slack_api_url=f"{fake.url}/api/")
    return flow.bot(Platform.SLACK, {"token": fake.token, "signing_secret": SLACK_SIGNING},
                    leads_enabled=leads_enabled)
