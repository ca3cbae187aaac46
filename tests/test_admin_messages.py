"""The message log: filters (bot, employee, direction, status, period, chat), search, 50 rows a page, sending a
failed message again, and one chat's conversation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_plugin import PluginState
from crm_plugin.core.models import Bot, Direction, EmployeeLink, LinkStatus, Message, MessageStatus, Platform

from .admin_helpers import add_user, admin_client, page, post

NOW = datetime.now(timezone.utc).replace(microsecond=0)
PREVIEW = re.compile(r'class="crm-preview" title="([^"]*)"')


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    return admin_client(app, client)


@pytest.fixture
def world(app: Flask, state: PluginState) -> dict[str, int]:
    """Two bots; on the first, Иванов (chat 100) and an unbound chat 200; messages of every kind."""
    ivanov = add_user(app, "ivanov", full_name="Иванов Иван")
    with state.db.session() as session:
        sealed = state.secrets.seal({"token": "1:a"})
        first = Bot(platform=Platform.TELEGRAM, name="Первый", credentials_encrypted=sealed)
        second = Bot(platform=Platform.VIBER, name="Второй", credentials_encrypted=state.secrets.seal({"token": "b"}))
        session.add_all([first, second])
        session.flush()
        link = EmployeeLink(bot_id=first.id, crm_user_id=ivanov, platform_user_id="100", chat_id="100",
                            status=LinkStatus.BOUND)
        session.add(link)
        session.flush()

        def add(preview: str, bot: Bot, chat: str, direction: Direction, status: MessageStatus, age: timedelta,
                error: str | None = None, employee: EmployeeLink | None = None) -> int:
            message = Message(bot_id=bot.id, chat_id=chat, link_id=employee.id if employee else None,
                              direction=direction, kind="text", preview=preview, status=status, error=error,
                              attempts=5 if error else 1, created_at=NOW - age)
            session.add(message)
            session.flush()
            return message.id

        ids = {
            "hello": add("Здравствуйте", first, "100", Direction.IN, MessageStatus.HANDLED, timedelta(days=3),
                         employee=link),
            "menu": add("Главное меню", first, "100", Direction.OUT, MessageStatus.SENT, timedelta(days=3),
                        employee=link),
            "jobs": add("Мои замеры на сегодня", first, "100", Direction.OUT, MessageStatus.FAILED, timedelta(hours=2),
                        error="Telegram sendMessage: 502 Bad Gateway", employee=link),
            "guest": add("Кто вы?", first, "200", Direction.IN, MessageStatus.HANDLED, timedelta(hours=1)),
            "viber": add("Привет из Viber", second, "v1", Direction.OUT, MessageStatus.FAILED, timedelta(minutes=5),
                         error="Viber: 6 receiver not subscribed"),
        }
        return {"first": first.id, "second": second.id, "link": link.id, **ids}


def previews(client: FlaskClient, query: str) -> set[str]:
    return set(PREVIEW.findall(page(client, "/messages/" + query)))


def test_the_log_is_filtered_by_each_field_and_searched(admin: FlaskClient, world: dict[str, int]) -> None:
    everything = {"Здравствуйте", "Главное меню", "Мои замеры на сегодня", "Кто вы?", "Привет из Viber"}
    assert previews(admin, "") == everything
    assert previews(admin, "?flt0_status=failed") == {"Мои замеры на сегодня", "Привет из Viber"}
    assert previews(admin, f"?flt0_bot={world['second']}") == {"Привет из Viber"}
    assert previews(admin, f"?flt0_employee={world['link']}") == {"Здравствуйте", "Главное меню",
                                                                  "Мои замеры на сегодня"}
    assert previews(admin, f"?flt0_bot={world['first']}&flt1_direction=in") == {"Здравствуйте", "Кто вы?"}
    assert previews(admin, "?flt0_chat=200") == {"Кто вы?"}
    today = datetime.now(timezone(timedelta(hours=3))).date()  # the company's zone (Europe/Moscow)
    week_ago = today - timedelta(days=7)
    assert previews(admin, f"?flt0_period={week_ago}+to+{today - timedelta(days=2)}") == {"Здравствуйте",
                                                                                         "Главное меню"}
    assert previews(admin, "?search=замеры") == {"Мои замеры на сегодня"}
    assert previews(admin, "?flt0_status=failed&search=viber") == {"Привет из Viber"}


def test_a_failed_message_is_sent_again(state: PluginState, admin: FlaskClient, world: dict[str, int]) -> None:
    listing = page(admin, "/messages/?flt0_status=failed")
    assert listing.count("crm-resend") == 2 and "Telegram sendMessage: 502 Bad Gateway" in listing

    html = post(admin, "/messages/resend/?url=/admin/crm-plugin/messages/", {"id": world["jobs"]},
                token_from="/messages/", follow_redirects=True).get_data(as_text=True)
    assert "Сообщение снова в очереди" in html
    with state.db.session() as session:
        message = session.get(Message, world["jobs"])
        assert message is not None and (message.status, message.attempts) == (MessageStatus.QUEUED, 0)

    # the bulk action: only rows still failed go back in line
    html = post(admin, "/messages/action/", {"action": "resend", "rowid": [str(world["viber"]), str(world["menu"])]},
                token_from="/messages/", follow_redirects=True).get_data(as_text=True)
    assert "Снова в очереди: 1" in html
    with state.db.session() as session:
        assert session.get(Message, world["viber"]).status is MessageStatus.QUEUED
        assert session.get(Message, world["menu"]).status is MessageStatus.SENT
    assert previews(admin, "?flt0_status=failed") == set()


def test_the_conversation_of_one_chat(admin: FlaskClient, world: dict[str, int]) -> None:
    html = page(admin, f"/messages/conversation/?bot_id={world['first']}&chat_id=100")
    assert "Иванов Иван" in html and "Кто вы?" not in html
    order = [html.index(text) for text in ("Здравствуйте", "Главное меню", "Мои замеры на сегодня")]
    assert order == sorted(order)  # oldest first, like a chat


def test_fifty_rows_a_page_newest_first(state: PluginState, admin: FlaskClient) -> None:
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Много", credentials_encrypted=state.secrets.seal({"token": "1:a"}))
        session.add(bot)
        session.flush()
        session.add_all(Message(bot_id=bot.id, chat_id="1", direction=Direction.OUT, kind="text",
                                preview=f"m{i:03d}", status=MessageStatus.SENT) for i in range(120))
    first = PREVIEW.findall(page(admin, "/messages/"))
    second = PREVIEW.findall(page(admin, "/messages/?page=1"))
    assert first == [f"m{i:03d}" for i in range(119, 69, -1)]
    assert second == [f"m{i:03d}" for i in range(69, 19, -1)]
