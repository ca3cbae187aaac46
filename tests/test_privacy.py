"""Privacy and honesty (issue 11): who took a request is told only to people offered it; an http public URL
is refused at start-up (Telegram would refuse the webhook later); a person who blocks the Telegram bot is
noticed at once, from Telegram's my_chat_member update."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from crm_plugin import CrmPlugin, PluginStartupError, host
from crm_plugin.channels.telegram import TelegramChannel
from crm_plugin.channels.telegram_parse import parse_update
from crm_plugin.core.manifest import load_manifest
from crm_plugin.core.models import LinkStatus
from crm_plugin.core.settings import load_settings
from crm_plugin.host import Role
from crm_plugin.testing import InMemoryGateway
from tests.bot_helpers import NOW, World, last_text, person

from .fakes.telegram import FakeTelegram
from .flows.telegram import (
    TELEGRAM_SECRET,
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.world import Flow, flow_fixture  # noqa: F401  (fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
REFUSAL = "Эта заявка вам недоступна."

# --- who took a request: only for those offered it ----------------------------------------------------------


def test_who_took_a_request_is_told_only_to_people_offered_it(world: World) -> None:
    world.user("ann", Role.MEASURER, name="Анна Смирнова")
    world.user("bob", Role.MEASURER, name="Борис Козлов")
    ann, bob = person(), person()
    world.bind(ann, "ann")
    world.bind(bob, "bob")
    job = world.job(at=NOW + timedelta(hours=5), assignee=None)
    host.measurement_requested.send(world.app, job_id=job)  # offered to Ann and Bob
    world.user("carl", Role.MEASURER, name="Карл Иванов")
    carl = person()
    world.bind(carl, "carl")  # a measurer who joined later: never offered the request
    before = len(world.outbox(carl.chat_id))

    assert "Заявка ваша" in last_text(world.press(bob, f"take:{job}"))
    number = world.crm_job(job).order_number
    assert last_text(world.press(ann, f"take:{job}")) == f"Заявку № {number} уже взял(а) Борис Козлов."
    nowhere = last_text(world.press(carl, "take:999999"))  # a job that does not exist
    forged = world.press(carl, f"take:{job}")
    assert last_text(forged).startswith(REFUSAL) and last_text(forged) == nowhere
    assert not any("Борис" in m.preview or number in m.preview for m in world.outbox(carl.chat_id)[before:])


def test_a_take_button_on_a_card_is_an_offer_too(world: World) -> None:
    world.user("ann", Role.MEASURER, name="Анна Смирнова")
    world.user("dina", Role.MEASURER, name="Дина Рахимова")
    ann, dina = person(), person()
    world.bind(ann, "ann")
    world.bind(dina, "dina")
    job = world.job(at=NOW + timedelta(hours=5), assignee=None)  # no signal: found in Dina's list of new ones
    assert "take:" + str(job) in [b.payload for r in world.press(dina, f"job:{job}").sent
                                  for row in getattr(r, "buttons", ()) for b in row]
    world.press(ann, f"job:{job}")
    world.press(ann, f"take:{job}")
    number = world.crm_job(job).order_number
    told = [m.preview for m in world.outbox(dina.chat_id)]
    assert told[-1] == f"Заявку № {number} уже взял(а) Анна Смирнова."  # Dina saw its «Взять»: she is told
    assert last_text(world.press(dina, f"take:{job}")) == f"Заявку № {number} уже взял(а) Анна Смирнова."


def test_an_admin_may_learn_who_took_any_request(world: World) -> None:
    world.user("bob", Role.MEASURER, name="Борис Козлов")
    world.user("boss", admin=True)
    bob, boss = person(), person()
    world.bind(bob, "bob")
    world.bind(boss, "boss")
    job = world.job(at=NOW + timedelta(hours=5), assignee=None)
    world.press(bob, f"job:{job}")
    world.press(bob, f"take:{job}")
    assert last_text(world.press(boss, f"take:{job}")).endswith("уже взял(а) Борис Козлов.")  # admins see every job


# --- PUBLIC_URL: https, or http on loopback only ---------------------------------------------------------------

def host_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("host")
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'crm.db'}", **config)
    return app


@pytest.mark.parametrize("url", ["http://crm.example.com", "http://10.0.0.5:8000", "ftp://crm.example.com",
                                 "crm.example.com", "https://", "http://localhost.example.com"])
def test_a_public_url_telegram_would_refuse_stops_start_up_with_one_line(tmp_path: Path, url: str) -> None:
    with pytest.raises(PluginStartupError) as caught:
        CrmPlugin(host_app(tmp_path, CRM_PLUGIN_PUBLIC_URL=url), gateway=InMemoryGateway())
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"crm_plugin: CRM_PLUGIN_PUBLIC_URL={url!r} is not allowed; it must be an https://")


@pytest.mark.parametrize("url", ["https://crm.example.com", "https://crm.example.com:8443/base/",
                                 "http://127.0.0.1:5000", "http://127.0.0.2", "http://localhost:8000",
                                 "http://[::1]:5000"])
def test_https_and_loopback_http_public_urls_are_accepted(url: str) -> None:
    assert load_settings({"CRM_PLUGIN_PUBLIC_URL": url}, load_manifest()).public_url == url


# --- Telegram: a person who blocks the bot ---------------------------------------------------------------------

def test_blocking_the_bot_marks_the_link_unreachable_at_once(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    someone = TelegramUser(flow, bot_id, telegram, 111_222_333).bind_by_invite(measurer)
    assert flow.link(bot_id, measurer).status is LinkStatus.BOUND  # type: ignore[union-attr]
    sends = len(telegram.sent_messages())

    update = json.loads((FIXTURES / "my_chat_member_kicked.json").read_text())  # Telegram's own update
    assert str(update["my_chat_member"]["from"]["id"]) == someone.user_id
    someone._post(json.dumps(update, ensure_ascii=False).encode(), {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert flow.link(bot_id, measurer).status is LinkStatus.UNREACHABLE  # type: ignore[union-attr]
    flow.run()
    assert len(telegram.sent_messages()) == sends  # found out without a failed send


def test_the_bot_asks_telegram_for_my_chat_member_by_webhook_and_by_polling(telegram: FakeTelegram) -> None:
    channel = TelegramChannel({"token": telegram.token}, api_url=telegram.url)
    channel.set_webhook("https://crm.example.com/crm-plugin/webhook/1", "s3cret")
    assert "my_chat_member" in telegram.webhook()["allowed_updates"]
    channel.prepare_for_polling()
    update = json.loads((FIXTURES / "my_chat_member_kicked.json").read_text())
    telegram.push_update(update)
    parsed, _ = channel.poll(None, 1)
    [getupdates] = telegram.calls("getUpdates")
    assert "my_chat_member" in json.loads(getupdates.params["allowed_updates"])
    assert [p.unreachable for p in parsed] == [["111222333"]]


def test_other_member_updates_mark_nobody() -> None:
    update = json.loads((FIXTURES / "my_chat_member_kicked.json").read_text())
    update["my_chat_member"]["new_chat_member"]["status"] = "member"  # unblocked
    assert parse_update(update).unreachable == []
    update["my_chat_member"]["chat"].update(id=-100123, type="supergroup")  # the bot removed from a group
    update["my_chat_member"]["new_chat_member"]["status"] = "kicked"
    assert parse_update(update).unreachable == []
