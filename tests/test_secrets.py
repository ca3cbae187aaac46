"""No secret in clear, anywhere (issue 11): one bot per platform with distinctive keys, added through the admin,
real traffic through the fake platforms with every logger at DEBUG, the admin pages rendered; then every log
line, every page and every column of every table of the plugin's database is searched for the secrets.

And key rotation: with the old key in CRM_PLUGIN_OLD_SECRET_KEYS every bot keeps working (and is sealed again
with the new key when saved); without it the webhook answers 503 with one log line, the admin asks for the
tokens again, and typing them again restores the bot with its id, links and message log."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select, text

from crm_plugin import PluginState
from crm_plugin.channels import channels
from crm_plugin.core.crypto import SecretBox, webhook_secret_digest
from crm_plugin.core.models import Bot, EmployeeLink, Message, Platform
from crm_plugin.core.scrub import LIBRARY_LOGGERS
from crm_plugin.extension import stop
from crm_plugin.host import JobKind, Role
from tests.store_helpers import configure

from .admin_helpers import PAGES, admin_client, page, post
from .conftest import make_test_app
from .fakes.server import SlidingWindow
from .fakes.slack import FakeSlack
from .fakes.slack_socket import FakeSlackSocketMode
from .fakes.telegram import FakeTelegram
from .fakes.viber import FakeViber
from .fakes.vk import FakeVk
from .flows.slack import SlackUser
from .flows.telegram import TelegramUser
from .flows.viber import ViberUser
from .flows.vk import VkUser
from .flows.world import FAST_CHAT_RATE, Flow, flow_fixture, local_moment  # noqa: F401  (fixture)

PUBLIC = "https://crm.example"
TELEGRAM_TOKEN = "918273:TGzq9-bot-token-Secret0001"
VK_TOKEN = "vk1.a.VKzq9-community-token-Secret0002"
VK_SECRET = "VKzq9-callback-secret-0003"
VK_CONFIRMATION = "a1b2c3d4"  # what the fake VK expects back (shown on pages: not a secret)
VIBER_TOKEN = "4f1eVBzq9-viber-auth-token-0004"
SLACK_TOKEN = "xoxb-zq9-slack-bot-token-0005"
SLACK_SIGNING = "SLzq9-signing-secret-0006"
SLACK_APP_TOKEN = "xapp-1-zq9-app-level-token-0007"
TYPED_SECRETS = {"telegram token": TELEGRAM_TOKEN, "telegram token's secret part": TELEGRAM_TOKEN.split(":")[1],
                 "vk token": VK_TOKEN, "vk secret": VK_SECRET, "viber token": VIBER_TOKEN,
                 "slack token": SLACK_TOKEN, "slack signing secret": SLACK_SIGNING, "slack app token": SLACK_APP_TOKEN}
LEADS_CHANNEL = "C0LEADS01"


# --- the four platforms, faked, and people on them signing with the real secrets -------------------------

@dataclass
class Fakes:
    telegram: FakeTelegram
    vk: FakeVk
    viber: FakeViber
    slack: FakeSlack

    def webhook_secrets(self) -> dict[str, str]:
        """The webhook secrets the plugin gave the platforms (known to them, never stored by us in clear)."""
        found = {}
        if self.telegram.webhook().get("secret_token"):
            found["telegram webhook secret"] = self.telegram.webhook()["secret_token"]
        for server in self.vk.callback_servers:
            found[f"vk callback secret {server['id']}"] = server["secret_key"]
        return found


@pytest.fixture(name="fakes")
def fakes_fixture() -> Iterator[Fakes]:
    fakes = Fakes(FakeTelegram(TELEGRAM_TOKEN, per_chat=(int(FAST_CHAT_RATE), 1.0)),
                  FakeVk(VK_TOKEN, per_token=(40, 1.0)), FakeViber(token=VIBER_TOKEN),
                  FakeSlackSocketMode(SLACK_TOKEN, app_token=SLACK_APP_TOKEN))  # the app token: Socket Mode
    fakes.slack.per_channel = SlidingWindow(int(FAST_CHAT_RATE), 1.0)
    with fakes.telegram, fakes.vk, fakes.viber, fakes.slack:
        yield fakes


class Telegram(TelegramUser):
    def _sign(self, body: bytes) -> dict[str, str]:
        return {"X-Telegram-Bot-Api-Secret-Token": self.fake.webhook()["secret_token"]}


class Vk(VkUser):
    def _event(self, kind: str, obj: dict[str, Any]) -> bytes:
        event = json.loads(super()._event(kind, obj))
        event["secret"] = self.fake.callback_servers[-1]["secret_key"]  # what set_webhook registered
        return json.dumps(event, ensure_ascii=False).encode()


class Viber(ViberUser):
    def _sign(self, body: bytes) -> dict[str, str]:
        return {"X-Viber-Content-Signature": hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()}


class Slack(SlackUser):
    def _sign(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        digest = hmac.new(SLACK_SIGNING.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def point_at(state: PluginState | Flask, fakes: Fakes) -> None:
    configure(state, public_url=PUBLIC, telegram_api_url=fakes.telegram.url, vk_api_url=fakes.vk.api_url,
              viber_api_url=f"{fakes.viber.url}/pa/", slack_api_url=f"{fakes.slack.url}/api/")


FORMS = {
    Platform.TELEGRAM: {"telegram_token": TELEGRAM_TOKEN},
    Platform.VK: {"vk_token": VK_TOKEN, "vk_confirmation": VK_CONFIRMATION, "vk_secret": VK_SECRET},
    Platform.VIBER: {"viber_token": VIBER_TOKEN},
    Platform.SLACK: {"slack_token": SLACK_TOKEN, "slack_signing_secret": SLACK_SIGNING,
                     "slack_app_token": SLACK_APP_TOKEN, "leads_enabled": "y"},
}


def add_bots(admin: FlaskClient, state: PluginState) -> dict[Platform, int]:
    """One bot per platform, added in the admin the way a CRM admin does it (webhooks set on save)."""
    for platform, fields in FORMS.items():
        response = post(admin, "/bots/new/", {"platform": platform.value, "name": "", "active": "y", **fields},
                        follow_redirects=True)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "Бот сохранён, но" not in html, html[:2000]
    with state.db.session() as session:
        found = {bot.platform: bot.id for bot in session.scalars(select(Bot))}
    assert set(found) == set(FORMS)
    return found


@dataclass
class People:
    telegram: Telegram
    vk: Vk
    viber: Viber
    slack: Slack


def bind_people(flow: Flow, fakes: Fakes, ids: dict[Platform, int]) -> People:
    measurer = flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 14, 0), measurer)
    people = People(Telegram(flow, ids[Platform.TELEGRAM], fakes.telegram, 5_550_001),
                    Vk(flow, ids[Platform.VK], fakes.vk, 5_550_002),
                    Viber(flow, ids[Platform.VIBER], fakes.viber, "vb-secrets-01=="),
                    Slack(flow, ids[Platform.SLACK], fakes.slack, "U0SECRET01", dm_channel="D0SECRET01"))
    for person in (people.telegram, people.vk, people.viber):
        person.bind_by_invite(measurer)
    people.slack.text("volkov")
    [code] = flow.login_codes(measurer)
    people.slack.text(code)
    assert people.slack.last_text().startswith("Готово! Вы вошли как")
    return people


def talk(people: People) -> None:
    """Everyone opens today's list and the job in it, and goes back to the menu."""
    for person in (people.telegram, people.vk, people.viber, people.slack):
        person.tap("Сегодня")
        assert person.job_ids(), person.last_replies()
        person.tap("Меню")


def counts(state: PluginState, bot_id: int) -> tuple[int, int]:
    with state.db.session() as session:
        return (session.scalar(select(func.count()).select_from(EmployeeLink)
                               .where(EmployeeLink.bot_id == bot_id)) or 0,
                session.scalar(select(func.count()).select_from(Message).where(Message.bot_id == bot_id)) or 0)


# --- no secret anywhere ----------------------------------------------------------------------------------

def dump_database(state: PluginState) -> str:
    """Every column of every row of every table in the plugin's database, as text."""
    lines = []
    with state.db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: " + " | ".join(_as_text(value) for value in row))
    return "\n".join(lines)


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("latin-1")
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False) \
        if isinstance(value, (dict, list)) else str(value)


def admin_pages(admin: FlaskClient, state: PluginState, ids: dict[Platform, int]) -> list[str]:
    seen = [page(admin, path) for path in PAGES]
    for bot_id in ids.values():
        seen += [page(admin, f"/bots/edit/?id={bot_id}"), page(admin, f"/bots/info/?id={bot_id}")]
    with state.db.session() as session:
        messages = [(m.id, m.bot_id, m.chat_id) for m in session.scalars(select(Message))]
    assert len(messages) > 20
    for message_id, bot_id, chat_id in messages:
        seen.append(page(admin, f"/messages/details/?id={message_id}"))
    for bot_id, chat_id in {(bot_id, chat_id) for _, bot_id, chat_id in messages}:
        seen.append(page(admin, "/messages/conversation/", query_string={"bot_id": bot_id, "chat_id": chat_id}))
    return seen


def log_lines(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as a handler would write it (with its traceback); the fake platforms' own
    access log ("werkzeug", their servers run in this process) stands for the platforms' servers."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records if r.name != "werkzeug")


def leaks(secrets: dict[str, str], **haystacks: str) -> list[tuple[str, str]]:
    return [(what, where) for what, secret in secrets.items() for where, hay in haystacks.items() if secret in hay]


def test_no_secret_in_any_log_line_page_or_column_after_a_full_run(flow: Flow, fakes: Fakes,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the plugin's and every library's
    channels()  # every SDK imported now: telebot sets its logger's level to ERROR at import
    for name in LIBRARY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    point_at(flow.app, fakes)
    admin = admin_client(flow.app)
    # «Проверить» with right and wrong keys (errors from the libraries carry request URLs and payloads)
    for fields in ({"platform": "telegram", "telegram_token": TELEGRAM_TOKEN},
                   {"platform": "telegram", "telegram_token": "918273:TGzq9-wrong-token-Secret0009"},
                   {"platform": "viber", "viber_token": VIBER_TOKEN + "-wrong"},
                   {"platform": "slack", "slack_token": SLACK_TOKEN + "-wrong", "slack_signing_secret": SLACK_SIGNING}):
        post(admin, "/bots/check/", fields, token_from="/bots/new/")
    ids = add_bots(admin, flow.state)
    fakes.telegram.server_error(503, method="sendMessage")  # one failed send, retried: its error is logged
    people = bind_people(flow, fakes, ids)
    talk(people)
    fakes.slack.add_channel(LEADS_CHANNEL)
    fakes.slack.add_user("U0AUTHOR1", real_name="Рустам Галиев", display_name="Рустам", email="r@example.com")
    Slack(flow, ids[Platform.SLACK], fakes.slack, "U0AUTHOR1", "D0AUTHOR1").message(
        "Нужны окна, позвоните: +7 916 123-45-67", LEADS_CHANNEL, "channel")
    for bot_id in ids.values():  # «Инфо» → set the webhook again: new secrets, the old ones must not linger
        post(admin, "/bots/info/webhook/", {"id": bot_id}, token_from=f"/bots/info/?id={bot_id}")
    talk(people)
    flow.run()

    secrets = {**TYPED_SECRETS, "wrong telegram token": "TGzq9-wrong-token-Secret0009", **fakes.webhook_secrets()}
    assert len(fakes.vk.callback_servers) == 1 and "telegram webhook secret" in secrets
    logs = log_lines(caplog)
    pages = "\n".join(admin_pages(admin, flow.state, ids))
    database = dump_database(flow.state)
    assert leaks(secrets, logs=logs) == []
    assert leaks(secrets, pages=pages) == []
    assert leaks(secrets, database=database) == []  # the VK `secret` of stored raw events too (issue 11)

    # The logs were really captured at DEBUG, from every library, with the secrets masked, not absent.
    names = {r.name for r in caplog.records}
    assert {"viber.bot.api", "TeleBot", "urllib3.connectionpool", "slack_sdk.web.base_client"} <= names, names
    assert "'auth_token': '***'" in logs  # viberbot's payloads
    assert "/bot***/sendMessage" in logs  # urllib3's request lines
    # The bots' rows hold digests of the webhook secrets, and the tokens only sealed.
    with flow.state.db.session() as session:
        bots = list(session.scalars(select(Bot)))
    telegram_bot = next(bot for bot in bots if bot.platform is Platform.TELEGRAM)
    assert telegram_bot.webhook_secret == webhook_secret_digest(secrets["telegram webhook secret"])
    assert all(bot.webhook_secret is None or bot.webhook_secret.startswith("sha256:") for bot in bots)


# --- key rotation ----------------------------------------------------------------------------------------

def rotated_flow(database_url: str, fakes: Fakes, **config: Any) -> Flow:
    """The same CRM and database started again with another SECRET_KEY."""
    app = make_test_app(database_url, SECRET_KEY="a-new-secret-key-after-the-leak", **config)
    point_at(app, fakes)
    return Flow(app)


def move_people(people: People, flow: Flow) -> None:
    for person in (people.telegram, people.vk, people.viber, people.slack):
        person.flow = flow


def test_rotating_the_key_with_the_old_one_configured_keeps_every_bot_working(
        flow: Flow, fakes: Fakes, database_url: str) -> None:
    point_at(flow.app, fakes)
    ids = add_bots(admin_client(flow.app), flow.state)
    people = bind_people(flow, fakes, ids)
    flow.worker.stop()

    rotated = rotated_flow(database_url, fakes, CRM_PLUGIN_OLD_SECRET_KEYS="an-older-key, test-secret")
    try:
        move_people(people, rotated)
        talk(people)  # webhooks verified, the bot answers, the worker sends with the old seals
        admin = _admin(rotated.app)
        for platform, bot_id in ids.items():
            assert "не расшифровываются" not in page(admin, f"/bots/info/?id={bot_id}")
            checked = post(admin, "/bots/check/", {"id": bot_id}, token_from=f"/bots/edit/?id={bot_id}")
            assert checked.status_code == 200 and checked.json["ok"], (platform, checked.json)
        # Saved once (nothing typed): sealed again with the new key, readable without the old one.
        telegram_id = ids[Platform.TELEGRAM]
        response = post(admin, f"/bots/edit/?id={telegram_id}", {"name": "Замерщики", "active": "y"},
                        follow_redirects=True)
        assert response.status_code == 200
        with rotated.state.db.session() as session:
            sealed = {bot.id: bot.credentials_encrypted for bot in session.scalars(select(Bot))}
        new_key_only = SecretBox("a-new-secret-key-after-the-leak")
        assert new_key_only.open(sealed[telegram_id]) == {"token": TELEGRAM_TOKEN}
        assert not rotated.state.secrets.is_current(sealed[ids[Platform.VIBER]])  # not saved yet: old seal
        talk(people)
    finally:
        rotated.worker.stop()
        stop(rotated.app)


def _admin(app: Flask) -> FlaskClient:
    """The CRM admin of a restarted app (the user exists already in the CRM's tables)."""
    from .admin_helpers import login

    client = app.test_client()
    login(client, "boss")
    return client


RETYPED = {Platform.TELEGRAM: {"telegram_token": TELEGRAM_TOKEN},
           Platform.VK: {"vk_token": VK_TOKEN, "vk_confirmation": VK_CONFIRMATION, "vk_secret": VK_SECRET},
           Platform.VIBER: {"viber_token": VIBER_TOKEN},
           Platform.SLACK: {"slack_token": SLACK_TOKEN, "slack_signing_secret": SLACK_SIGNING, "leads_enabled": "y"}}


def test_without_the_old_key_the_webhook_answers_503_and_typing_the_tokens_again_restores_the_bot(
        flow: Flow, fakes: Fakes, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    point_at(flow.app, fakes)
    ids = add_bots(admin_client(flow.app), flow.state)
    people = bind_people(flow, fakes, ids)
    talk(people)
    before = {platform: counts(flow.state, bot_id) for platform, bot_id in ids.items()}
    assert all(links == 1 and messages > 4 for links, messages in before.values()), before
    flow.worker.stop()

    rotated = rotated_flow(database_url, fakes)  # the old key is lost
    try:
        move_people(people, rotated)
        client = rotated.app.test_client()
        caplog.set_level(logging.INFO)
        caplog.clear()
        response = client.post(f"/crm-plugin/webhook/{ids[Platform.TELEGRAM]}", data=b'{"update_id": 1}',
                               headers={"X-Telegram-Bot-Api-Secret-Token": fakes.telegram.webhook()["secret_token"],
                                        "Content-Type": "application/json"})
        assert response.status_code == 503
        [line] = [r for r in caplog.records if r.name == "crm_plugin.web.webhooks"]
        assert line.levelno == logging.ERROR and "CRM_PLUGIN_OLD_SECRET_KEYS" in line.getMessage()
        for bot_id in ids.values():
            assert client.post(f"/crm-plugin/webhook/{bot_id}", data=b"{}").status_code == 503

        admin = _admin(rotated.app)
        for platform, bot_id in ids.items():
            retype = "Введите все ключи бота заново"
            assert retype in page(admin, f"/bots/info/?id={bot_id}")
            assert retype in page(admin, f"/bots/edit/?id={bot_id}")
            checked = post(admin, "/bots/check/", {"id": bot_id}, token_from=f"/bots/edit/?id={bot_id}")
            assert checked.status_code == 400 and retype in checked.json["error"]
            # Some keys typed, not all: refused with the same words (the others cannot be read to fill in).
            first, *others = [k for k in RETYPED[platform] if k != "leads_enabled"]
            if others:
                refused = post(admin, f"/bots/edit/?id={bot_id}", {"name": "x", "active": "y",
                                                                   first: RETYPED[platform][first]})
                assert refused.status_code == 200 and retype in refused.get_data(as_text=True)
            # Nothing typed: the rest of the form is saved (switching a broken bot off works); still unreadable.
            kept = post(admin, f"/bots/edit/?id={bot_id}", {"name": "Сломанный", "active": "y"},
                        follow_redirects=True)
            assert kept.status_code == 200 and retype in page(admin, f"/bots/edit/?id={bot_id}")
            # Every token typed again: the credentials are replaced, the webhook set again.
            saved = post(admin, f"/bots/edit/?id={bot_id}", {"name": "", "active": "y", **RETYPED[platform]},
                         follow_redirects=True)
            html = saved.get_data(as_text=True)
            assert saved.status_code == 200 and "Вебхук установлен" in html, html[:3000]

        with rotated.state.db.session() as session:
            now = {bot.platform: bot.id for bot in session.scalars(select(Bot))}
        assert now == ids  # the same bots
        talk(people)  # the same people, still bound: the bots answer again
        for platform, bot_id in ids.items():
            links, messages = counts(rotated.state, bot_id)
            assert links == 1 and messages > before[platform][1], platform  # links and log kept, log grows
    finally:
        rotated.worker.stop()
        stop(rotated.app)
