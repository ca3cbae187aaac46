"""Polling mode: Telegram getUpdates and VK Bots Long Poll feed the same engine as webhooks."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from crm_plugin import PluginState
from crm_plugin.core.models import Message, Platform
from crm_plugin.inbound.polling import Poller
from tests.store_helpers import configure

from .fakes.telegram import FakeTelegram
from .fakes.vk import FakeVk
from .store_helpers import add_bot, incoming

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


def test_telegram_polling_stores_updates_once_and_keeps_the_offset(state: PluginState) -> None:
    with FakeTelegram() as fake:
        configure(state, telegram_api_url=fake.url)
        fake.set_webhook_state(url="https://old.example/hook")
        bot = add_bot(state, Platform.TELEGRAM, {"token": fake.token})
        poller = Poller(state, timeout=1)
        channel = poller.prepare(bot)  # removes the webhook, as Telegram requires for getUpdates
        assert fake.calls("deleteWebhook")
        update = fixture("telegram", "text.json")
        fake.push_update(update)
        assert poller.poll_once(bot, channel) == 1
        assert poller.poll_once(Poller(state, timeout=1).bots()[0], channel) == 0  # confirmed: not re-sent
        offsets = [call.params.get("offset") for call in fake.calls("getUpdates")]
        assert str(update["update_id"] + 1) in {str(o) for o in offsets}
        rows = incoming(state, bot.id)
        assert [row.kind for row in rows] == ["text"]


def test_vk_long_poll_feeds_the_engine(state: PluginState) -> None:
    with FakeVk() as fake:
        configure(state, vk_api_url=fake.api_url)
        bot = add_bot(state, Platform.VK, fake.credentials())
        poller = Poller(state, timeout=1)
        channel = poller.prepare(bot)
        assert poller.poll_once(bot, channel) == 0  # VK delivers only what comes after the first key
        fake.push_event(fixture("vk", "message_new_text.json"))
        assert poller.poll_once(bot, channel) == 1
        fake.expire_long_poll_key()
        assert poller.poll_once(bot, channel) == 0  # a new key is fetched, nothing lost or doubled
        with state.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 1
