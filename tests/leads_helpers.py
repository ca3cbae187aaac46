"""Leads from channels in tests: platform payloads from tests/fixtures, posted to the webhook as VK and Slack
post them, and the demo CRM's leads read back."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crm_plugin.core.models import LeadSettings, Message, Platform
from crm_plugin.demo.models import Lead, LeadNote, db

from .fakes.slack import FakeSlack
from .fakes.vk import FakeVk
from .flows.slack import SLACK_SIGNING
from .flows.world import Flow
from .store_helpers import configure

FIXTURES = Path(__file__).parent / "fixtures"
VK_SECRET = "vk-secret"


def fixture(platform: str, name: str, **event: Any) -> dict[str, Any]:
    """A stored payload; keyword arguments replace fields of its ``event`` (Slack) or ``object`` (VK)."""
    data = json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))
    inner = data["event"] if platform == "slack" else data["object"]
    if platform == "vk" and "message" in inner:
        inner = inner["message"]
    inner.update(event)
    return data


def vk_bot(flow: Flow, fake: FakeVk, **settings: Any) -> int:
    configure(flow.app, vk_api_url=fake.api_url)
    bot_id = flow.bot(Platform.VK, fake.credentials(secret=VK_SECRET), username=f"club{fake.group_id}",
                      leads_enabled=True)
    if settings:
        lead_settings(flow, bot_id, **settings)
    return bot_id


def slack_bot(flow: Flow, fake: FakeSlack, **settings: Any) -> int:
    configure(flow.app, slack_api_url=f"{fake.url}/api/")
    bot_id = flow.bot(Platform.SLACK, {"token": fake.token, "signing_secret": SLACK_SIGNING}, leads_enabled=True)
    if settings:
        lead_settings(flow, bot_id, **settings)
    return bot_id


def lead_settings(flow: Flow, bot_id: int, **values: Any) -> None:
    with flow.state.db.session() as session:
        row = session.get(LeadSettings, bot_id) or LeadSettings(bot_id=bot_id)
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)


def body_of(data: dict[str, Any]) -> bytes:
    """UTF-8 JSON as the platforms send it; a lone surrogate can only travel escaped (\\ud800)."""
    try:
        return json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(data).encode()


def post_vk(flow: Flow, bot_id: int, data: dict[str, Any]) -> Any:
    return flow.client.post(f"/crm-plugin/webhook/{bot_id}", data=body_of(data),
                            headers={"Content-Type": "application/json"})


def post_slack(flow: Flow, bot_id: int, data: dict[str, Any], *, retry: int | None = None) -> Any:
    body = body_of(data)
    timestamp = str(int(time.time()))
    digest = hmac.new(SLACK_SIGNING.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": f"v0={digest}"}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return flow.client.post(f"/crm-plugin/webhook/{bot_id}", data=body, headers=headers)


def channel_message(text: str, *, ts: str, event_id: str, channel: str = "C0LEADS01", user: str = "U061F7AUR",
                    **event: Any) -> dict[str, Any]:
    """A person's message in a channel, shaped like tests/fixtures/slack/message_channel.json."""
    data = fixture("slack", "message_channel", text=text, ts=ts, event_ts=ts, channel=channel, user=user, **event)
    data["event_id"] = event_id
    data["event"].pop("blocks", None)
    return data


def leads(flow: Flow) -> list[Lead]:
    with flow.app.app_context():
        rows = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        for row in rows:
            _ = row.notes, row.manager
        return rows


def notes(flow: Flow, lead_id: int) -> list[str]:
    with flow.app.app_context():
        return [n.text for n in db.session.scalars(select(LeadNote).where(LeadNote.lead_id == lead_id)
                                                   .order_by(LeadNote.id))]


def lead_rows(flow: Flow, bot_id: int) -> list[Message]:
    return [m for m in flow.incoming(bot_id) if m.kind == "lead"]


def copy_of(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)
