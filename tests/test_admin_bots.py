"""The "Боты" page against the fake Telegram Bot API: Проверить, save (webhook or polling), Инфо, edit, and
no secret ever in a page or a log line."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.core.crypto import webhook_secret_digest
from crm_plugin.core.models import Bot, Platform
from tests.store_helpers import configure

from .admin_helpers import PAGES, admin_client, page, post
from .fakes.telegram import FakeTelegram

PUBLIC = "https://crm.example.com"


@pytest.fixture
def fake(app: Flask) -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        configure(app, telegram_api_url=fake.url)
        yield fake


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    return admin_client(app, client, full_name="Главный Админ")


def bots(state: PluginState) -> list[Bot]:
    with state.db.session() as session:
        return list(session.scalars(select(Bot).order_by(Bot.id)))


def add_telegram(client: FlaskClient, token: str, **extra: str) -> str:
    response = post(client, "/bots/new/", {"platform": "telegram", "telegram_token": token, "name": "",
                                           "active": "y", **extra}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_check_fills_the_bot_id_and_name(admin: FlaskClient, fake: FakeTelegram) -> None:
    response = post(admin, "/bots/check/", {"platform": "telegram", "telegram_token": fake.token},
                    token_from="/bots/new/")
    assert response.status_code == 200
    assert response.json == {"ok": True, "id": "123456", "name": "CRM Бот", "username": "crm_test_bot"}
    assert [c.method for c in fake.calls()] == ["getMe"]


def test_check_shows_the_platforms_own_error_for_a_wrong_token(admin: FlaskClient, fake: FakeTelegram) -> None:
    response = post(admin, "/bots/check/", {"platform": "telegram", "telegram_token": "999:wrong-token"},
                    token_from="/bots/new/")
    assert response.status_code == 400
    assert response.json["ok"] is False
    assert response.json["error"] == "Telegram отклонил токен: такого бота нет или токен отозван. Скопируйте токен из @BotFather заново"


def test_a_token_of_the_wrong_look_says_what_a_token_looks_like(admin: FlaskClient, fake: FakeTelegram) -> None:
    response = post(admin, "/bots/check/", {"platform": "telegram", "telegram_token": "no-colon-here"},
                    token_from="/bots/new/")
    assert response.status_code == 400  # the SDK refuses it before any call: «Token must contain a colon»
    assert response.json["error"] == ("Ключ не похож на ключ Telegram: скопируйте его целиком. "
                                      "Выдаёт @BotFather: 123456:ABC…")
    assert fake.calls() == []


def test_the_same_bot_cannot_be_added_twice(state: PluginState, admin: FlaskClient, fake: FakeTelegram) -> None:
    add_telegram(admin, fake.token)
    html = add_telegram(admin, fake.token)
    assert "Этот бот уже добавлен: «CRM Бот»" in html and "IntegrityError" not in html
    assert len(bots(state)) == 1


def test_check_says_when_the_platform_cannot_be_reached(app: Flask, admin: FlaskClient) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        configure(app, telegram_api_url=f"http://127.0.0.1:{closed.getsockname()[1]}")
    response = post(admin, "/bots/check/", {"platform": "telegram", "telegram_token": "1:abc"},
                    token_from="/bots/new/")
    assert response.status_code == 400
    assert "Не удалось связаться с Telegram" in response.json["error"]


def test_check_names_the_empty_fields(admin: FlaskClient) -> None:
    response = post(admin, "/bots/check/", {"platform": "vk", "vk_token": "x" * 20}, token_from="/bots/new/")
    assert response.status_code == 400
    assert response.json["error"] == "Заполните: Секретный ключ"  # the confirmation string is optional


def test_check_without_the_forms_csrf_token_is_refused(admin: FlaskClient, fake: FakeTelegram) -> None:
    response = admin.post("/admin/crm-plugin/bots/check/", data={"platform": "telegram", "telegram_token": fake.token})
    assert response.status_code == 400
    assert fake.calls() == []


def test_saving_with_a_public_url_sets_the_webhook(app: Flask, state: PluginState, admin: FlaskClient,
                                                   fake: FakeTelegram) -> None:
    configure(app, public_url=PUBLIC + "/")
    html = add_telegram(admin, fake.token)
    [bot] = bots(state)
    url = f"{PUBLIC}/crm-plugin/webhook/{bot.id}"
    assert (bot.platform, bot.platform_bot_id, bot.name, bot.username) == (Platform.TELEGRAM, "123456", "CRM Бот",
                                                                          "crm_test_bot")
    assert bot.webhook_url == url and f"Вебхук установлен: {url}" in html
    assert fake.webhook()["url"] == url
    secret = fake.webhook()["secret_token"]
    assert len(secret) >= 32 and bot.webhook_secret == webhook_secret_digest(secret)  # only its digest is stored
    assert state.secrets.open(bot.credentials_encrypted) == {"token": fake.token}
    assert fake.token not in bot.credentials_encrypted

    info = page(admin, f"/bots/info/?id={bot.id}")
    assert url in info and "Ожидает доставки" in info
    assert "••••••••oken" in info  # the token, masked

    first_secret = bot.webhook_secret
    post(admin, "/bots/info/webhook/", {"id": bot.id}, token_from=f"/bots/info/?id={bot.id}")
    [bot] = bots(state)
    assert bot.webhook_secret != first_secret
    assert bot.webhook_secret == webhook_secret_digest(fake.webhook()["secret_token"])


def test_info_shows_the_platforms_last_webhook_error(state: PluginState, admin: FlaskClient,
                                                     fake: FakeTelegram) -> None:
    add_telegram(admin, fake.token)
    fake.set_webhook_state(url="https://old.example.com/hook", pending_update_count=7,
                           last_error_message="Wrong response from the webhook: 502 Bad Gateway",
                           last_error_date=1767225600)
    [bot] = bots(state)
    info = page(admin, f"/bots/info/?id={bot.id}")
    assert "https://old.example.com/hook" in info
    assert ">7<" in info
    assert "Wrong response from the webhook: 502 Bad Gateway" in info and "01.01.2026 03:00" in info  # Moscow


def test_saving_without_a_public_url_asks_for_polling(state: PluginState, admin: FlaskClient,
                                                      fake: FakeTelegram) -> None:
    html = add_telegram(admin, fake.token)
    [bot] = bots(state)
    assert bot.webhook_url is None and bot.platform_bot_id == "123456"
    assert "flask crm-plugin poll" in html
    assert fake.calls("setWebhook") == []


def test_a_wrong_token_is_not_saved(state: PluginState, admin: FlaskClient, fake: FakeTelegram) -> None:
    html = add_telegram(admin, "999:wrong-token")
    assert bots(state) == []
    assert "Telegram отклонил токен: такого бота нет" in html


def test_editing_keeps_the_saved_token_when_the_field_is_left_empty(state: PluginState, admin: FlaskClient,
                                                                    fake: FakeTelegram) -> None:
    add_telegram(admin, fake.token)
    [bot] = bots(state)
    edit = page(admin, f"/bots/edit/?id={bot.id}")
    assert 'placeholder="••••••••oken"' in edit and fake.token not in edit
    post(admin, f"/bots/edit/?id={bot.id}", {"telegram_token": "", "name": "Замерщики", "active": "y"})
    [bot] = bots(state)
    assert bot.name == "Замерщики" and state.secrets.open(bot.credentials_encrypted) == {"token": fake.token}
    assert fake.calls("getMe") and len(fake.calls("getMe")) == 1  # no new check without a new token

    other = fake.add_bot("777:second-token", first_name="Второй")
    post(admin, f"/bots/edit/?id={bot.id}", {"telegram_token": other.token, "name": "Замерщики", "active": "y"})
    [bot] = bots(state)
    assert state.secrets.open(bot.credentials_encrypted) == {"token": other.token} and bot.platform_bot_id == "777"


def test_no_secret_in_any_page_or_log_line(app: Flask, state: PluginState, admin: FlaskClient, fake: FakeTelegram,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's request lines (with Telegram URLs) too
    configure(app, public_url=PUBLIC)
    wrong = "424242:never-show-this-token"
    seen = [post(admin, "/bots/check/", {"platform": "telegram", "telegram_token": t}, token_from="/bots/new/")
            .get_data(as_text=True) for t in (fake.token, wrong)]
    seen += [add_telegram(admin, wrong), add_telegram(admin, fake.token)]
    [bot] = bots(state)
    fake.set_webhook_state(last_error_message="Wrong response from the webhook: 500", last_error_date=1767225600)
    seen += [page(admin, path) for path in PAGES]
    seen += [page(admin, f"/bots/info/?id={bot.id}"), page(admin, f"/bots/edit/?id={bot.id}")]
    secrets = {fake.token, wrong, fake.webhook()["secret_token"], fake.token.split(":")[1]}
    for html in seen:
        assert not [s for s in secrets if s in html]
    # The fake platform's own access log ("werkzeug", served in a thread here) stands for Telegram's servers.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert not [s for s in secrets if s in ours]
    assert "bot 1: webhook set to" in caplog.text  # the log was captured at all
    assert "/bot***/setWebhook" in ours  # urllib3 logged the request, with the token scrubbed
