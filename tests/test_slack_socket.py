"""Slack Socket Mode as a polling mode: slack_sdk's SocketModeClient against a fake apps.connections.open and a
WebSocket server on loopback, feeding crm_plugin.inbound.accept through the Poller like the webhook does."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.channels import registration as service
from crm_plugin.channels.base import Channel, CredentialsError, SendError
from crm_plugin.channels.slack_socket import SocketModeReceiver
from crm_plugin.core.models import Bot, MessageStatus, Platform
from crm_plugin.inbound.polling import Poller
from tests.store_helpers import configure

from .admin_helpers import admin_client, page, post
from .fakes.slack_socket import FakeSlackSocketMode
from .store_helpers import add_bot, incoming

FIXTURES = Path(__file__).parent / "fixtures" / "slack"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Polled:
    fake: FakeSlackSocketMode
    bot: Bot
    poller: Poller
    channel: Channel

    def poll(self) -> int:
        return self.poller.poll_once(self.bot, self.channel)

    def until_acknowledged(self, envelope_ids: list[str], limit: float = 10.0) -> int:
        """Poll until Slack has every envelope's acknowledgement (sent after storing); returns rows stored."""
        quick, stored, deadline = Poller(self.poller.state, timeout=0), 0, time.monotonic() + limit
        while not set(envelope_ids) <= set(self.fake.acks):
            assert time.monotonic() < deadline, f"not acknowledged: {set(envelope_ids) - set(self.fake.acks)}"
            stored += quick.poll_once(self.bot, self.channel)  # acknowledges the last batch, takes what is here
            self.fake.wait_acks(envelope_ids, timeout=0.05)
        return stored


@pytest.fixture
def fake() -> Iterator[FakeSlackSocketMode]:
    with FakeSlackSocketMode() as server:
        yield server


@pytest.fixture
def polled(state: PluginState, fake: FakeSlackSocketMode) -> Iterator[Polled]:
    configure(state, slack_api_url=f"{fake.url}/api/")
    bot = add_bot(state, Platform.SLACK, {"token": fake.token, "signing_secret": "s3cr3t", "app_token": fake.app_token},
                  leads_enabled=True)
    poller = Poller(state, timeout=1)
    channel = poller.prepare(bot)
    assert Poller(state, timeout=0).poll_once(bot, channel) == 0  # connects: apps.connections.open, WebSocket
    fake.wait_connections(1)
    yield Polled(fake, bot, poller, channel)
    channel.close()  # type: ignore[attr-defined]


def test_a_direct_message_is_stored_before_it_is_acknowledged(state: PluginState, polled: Polled) -> None:
    envelope_id = polled.fake.push_event(fixture("message_im.json"))
    assert polled.poll() == 1
    rows = incoming(state, polled.bot.id)
    assert [(row.kind, row.chat_id, row.status) for row in rows] == [("text", "D0DM00001", MessageStatus.RECEIVED)]
    assert rows[0].preview == "статистика за неделю"
    assert envelope_id not in polled.fake.acks  # acknowledged only once the Poller has stored it
    assert polled.until_acknowledged([envelope_id]) == 0  # the next poll acknowledges it
    assert polled.fake.calls("apps.connections.open")[0].headers["Authorization"] == f"Bearer {polled.fake.app_token}"


def test_a_channel_message_becomes_a_lead(state: PluginState, polled: Polled) -> None:
    envelope_id = polled.fake.push_event(fixture("message_channel.json"))
    assert polled.until_acknowledged([envelope_id]) == 1
    [row] = incoming(state, polled.bot.id)
    assert (row.kind, row.chat_id, row.platform_message_id) == ("lead", "slack:C0LEADS01:U061F7AUR", "slack:C0LEADS01:1718000000.000200")
    assert row.payload["lead"]["user_id"] == "U061F7AUR"


def test_every_envelope_is_acknowledged(state: PluginState, polled: Polled) -> None:
    broken = {"type": "event_callback", "event": {"type": "message"}}  # no event_id: malformed, skipped
    envelope_ids = [polled.fake.push_event(fixture("message_im.json")),
                    polled.fake.push_event(fixture("message_channel.json")),
                    polled.fake.push_interaction(fixture("block_actions.json")),
                    polled.fake.push_event(fixture("bot_message.json")),  # nothing to store: acknowledged at once
                    polled.fake.push_event(broken),
                    polled.fake.push("slash_commands", {"command": "/crm", "text": ""})]
    assert polled.until_acknowledged(envelope_ids) == 3
    assert sorted(polled.fake.acks) == sorted(envelope_ids)  # each once
    assert [row.kind for row in incoming(state, polled.bot.id)] == ["text", "lead", "button"]


def test_a_disconnect_envelope_is_survived(state: PluginState, polled: Polled) -> None:
    before = polled.fake.push_event(fixture("message_im.json"))
    polled.fake.disconnect()  # Slack's "refresh_requested": slack_sdk opens a new connection at once
    polled.fake.wait_connections(2)
    after = polled.fake.push_event(fixture("message_channel.json"))
    assert polled.until_acknowledged([before, after]) == 2
    assert [row.kind for row in incoming(state, polled.bot.id)] == ["text", "lead"]
    assert len(polled.fake.calls("apps.connections.open")) == 2  # a fresh one-time URL for each connection


def test_a_closed_socket_is_reopened(fake: FakeSlackSocketMode) -> None:
    # slack_sdk notices a socket the server closed on its next ping round: a short interval keeps this quick.
    receiver = SocketModeReceiver(fake.app_token, api_url=f"{fake.url}/api", ping_interval=0.2)
    try:
        assert receiver.poll(None, 0) == ([], [])
        fake.close_connection()  # a Slack server going away (close frame 1001)
        fake.wait_connections(2)
        envelope_id = fake.push_event(fixture("message_im.json"))
        requests, cursor = receiver.poll(None, 5)
        assert cursor == [envelope_id] and requests[0].dedupe_key == "slack:Ev0DM000001"
        receiver.poll(cursor, 0)
        assert envelope_id in fake.wait_acks([envelope_id])
    finally:
        receiver.close()


def test_the_same_event_sent_twice_is_stored_once(state: PluginState, polled: Polled) -> None:
    body = fixture("message_im.json")
    envelope_ids = [polled.fake.push_event(body), polled.fake.push_event(body, retry_attempt=1)]
    assert polled.until_acknowledged(envelope_ids) == 1  # slack:{event_id} as in the webhook path
    assert len(incoming(state, polled.bot.id)) == 1


def test_the_poller_picks_slack_bots_with_an_app_token(state: PluginState, caplog: pytest.LogCaptureFixture) -> None:
    telegram = add_bot(state, Platform.TELEGRAM, {"token": "123:abc"})
    socket_mode = add_bot(state, Platform.SLACK, {"token": "xoxb-1", "signing_secret": "s", "app_token": "xapp-1"})
    events_api = add_bot(state, Platform.SLACK, {"token": "xoxb-2", "signing_secret": "s"})
    with caplog.at_level(logging.INFO, logger="crm_plugin.inbound.polling"):
        assert [bot.id for bot in Poller(state).bots()] == [telegram.id, socket_mode.id]
    assert f"bot {events_api.id}: not polled: its slack keys" in caplog.text


def test_a_refused_app_token_stops_polling_the_bot(state: PluginState, fake: FakeSlackSocketMode,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    configure(state, slack_api_url=f"{fake.url}/api/")
    bot_token_instead = add_bot(state, Platform.SLACK, {"token": fake.token, "signing_secret": "s",
                                                        "app_token": fake.token})
    with caplog.at_level(logging.ERROR, logger="crm_plugin.inbound.polling"):
        Poller(state, timeout=1).run_bot(bot_token_instead)  # returns: retrying cannot help
    assert "polling stopped: slack: not_allowed_token_type" in caplog.text
    channel = Poller(state).prepare(add_bot(state, Platform.SLACK, {"token": fake.token, "signing_secret": "s",
                                                                    "app_token": "xapp-1-wrong"}))
    with pytest.raises(SendError) as refused:
        channel.poll(None, 1)  # type: ignore[attr-defined]
    assert refused.value.permanent and "invalid_auth" in str(refused.value)
    assert fake.connections == 0


def test_the_admin_app_token_is_optional_checked_and_masked(state: PluginState, fake: FakeSlackSocketMode) -> None:
    configure(state, slack_api_url=f"{fake.url}/api/")
    typed = {"token": fake.token, "signing_secret": "s3cr3t-signing"}
    assert service.clean_credentials(Platform.SLACK, {**typed, "app_token": " "}) == typed  # optional
    with_app = service.clean_credentials(Platform.SLACK, {**typed, "app_token": f" {fake.app_token} "})
    assert with_app["app_token"] == fake.app_token
    assert service.check_credentials(state, Platform.SLACK, with_app).id == fake.user_id
    with pytest.raises(CredentialsError, match="токен уровня приложения"):
        service.check_credentials(state, Platform.SLACK, {**typed, "app_token": "xapp-1-wrong"})
    bot = Bot(platform=Platform.SLACK, name="slack")
    service.seal(state, bot, with_app, None)
    shown = dict(service.masked_credentials(state, bot))
    assert shown["App-Level Token (Socket Mode)"] == "••••••••test" and fake.app_token not in shown.values()


def test_the_admin_form_saves_an_app_token_sealed_and_masked(app: Flask, state: PluginState, client: FlaskClient,
                                                            fake: FakeSlackSocketMode) -> None:
    configure(app, slack_api_url=f"{fake.url}/api/")
    admin = admin_client(app, client)
    post(admin, "/bots/new/", {"platform": "slack", "slack_token": fake.token, "slack_signing_secret": "s3cr3t",
                               "slack_app_token": "", "name": "", "active": "y"})
    with state.db.session() as session:
        bot = session.scalars(select(Bot)).one()
    assert state.secrets.open(bot.credentials_encrypted) == {"token": fake.token, "signing_secret": "s3cr3t"}
    assert Poller(state).bots() == []  # no app token: the Events API only

    post(admin, f"/bots/edit/?id={bot.id}", {"slack_token": "", "slack_signing_secret": "",
                                              "slack_app_token": fake.app_token, "name": "Заявки", "active": "y"})
    with state.db.session() as session:
        bot = session.scalars(select(Bot)).one()
    assert state.secrets.open(bot.credentials_encrypted)["app_token"] == fake.app_token
    assert len(fake.calls("apps.connections.open")) == 1 and fake.connections == 0  # checked, not connected
    assert [polled.id for polled in Poller(state).bots()] == [bot.id]
    edit = page(admin, f"/bots/edit/?id={bot.id}")
    assert 'placeholder="••••••••test"' in edit and fake.app_token not in edit
