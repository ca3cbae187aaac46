"""One error path: a message that crashes the bot is logged once, its row FAILED, and the person told in their
language; a forged button is no crash at all."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from crm_plugin.core.chat import ButtonPress, Event, Inbound, Sender, Text
from crm_plugin.core.models import Message, MessageStatus
from crm_plugin.delivery.outbox import log_inbound
from crm_plugin.host import Role
from crm_plugin.inbound import handle_received
from tests.bot_helpers import World, last_text, link_of, person


def receive(world: World, sender: Sender, event: Event) -> Message:
    """Store an incoming event as the webhook does and run the bot on it as the worker does."""
    link = link_of(world, sender)
    with world.state.db.session() as session:
        row = log_inbound(session, bot_id=world.bot_id, inbound=Inbound(sender, event),
                          link_id=link.id if link else None)
        session.flush()
        message_id = row.id
    with world.app.app_context():
        handle_received(world.state, message_id)
    with world.state.db.session() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        session.expunge(stored)
        return stored


def replies_to(world: World, sender: Sender) -> list[str]:
    with world.state.db.session() as session:
        rows = session.scalars(select(Message).where(Message.direction == "out", Message.chat_id == sender.chat_id)
                               .order_by(Message.id))
        return [row.payload["text"] for row in rows if row.payload.get("type") == "text"]


@pytest.fixture
def measurer(world: World) -> int:
    return world.user("me", Role.MEASURER)


def test_a_forged_button_gets_the_stale_answer_not_a_failed_row(world: World, measurer: int) -> None:
    sender = person()
    world.bind(sender, "me")
    assert last_text(world.press(sender, "job:²")).startswith("Эта кнопка устарела.")  # '²'.isdigit() is True
    row = receive(world, sender, ButtonPress("job:²"))
    assert row.status is MessageStatus.HANDLED and row.error is None
    assert replies_to(world, sender)[-1].startswith("Эта кнопка устарела.")


@pytest.mark.parametrize("language, apology", [
    ("en", "Something went wrong with your message. Please try again a little later."),
    ("ru", "Не получилось обработать сообщение. Попробуйте ещё раз чуть позже."),
])
def test_a_crash_is_answered_in_the_persons_language_and_logged_once(
        world: World, measurer: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        language: str, apology: str) -> None:
    sender = person(language=language)
    world.bind(sender, "me")

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("CRM is down: https://api.telegram.org/bot123:abc/getMe")

    monkeypatch.setattr(world.state.gateway, "get_user", broken)
    caplog.set_level(logging.INFO)
    row = receive(world, sender, Text("Сегодня"))  # no exception reaches the worker: the row is settled
    assert row.status is MessageStatus.FAILED and row.error and row.error.startswith("RuntimeError: CRM is down")
    assert "123:abc" not in row.error  # the bot token in the error text is scrubbed
    assert replies_to(world, sender)[-1] == apology
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "Traceback" in errors[0].getMessage() and "123:abc" not in errors[0].getMessage()


def test_a_guest_is_answered_in_their_messengers_language(world: World, measurer: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("CRM is down")

    monkeypatch.setattr(world.state.gateway, "find_users", broken)
    english, russian = person(language="en-GB"), person(language=None)
    assert receive(world, english, Text("me")).status is MessageStatus.FAILED
    assert receive(world, russian, Text("me")).status is MessageStatus.FAILED
    assert replies_to(world, english) == ["Something went wrong with your message. Please try again a little later."]
    assert replies_to(world, russian) == ["Не получилось обработать сообщение. Попробуйте ещё раз чуть позже."]
    # the company's default language is for those the messenger says nothing about
    monkeypatch.setattr(world.state, "settings", world.state.settings.with_values(language="en"))
    unknown = person(language=None)
    receive(world, unknown, Text("me"))
    assert replies_to(world, unknown) == ["Something went wrong with your message. Please try again a little later."]
