"""The delivery worker against the fake Telegram server, through the real telebot-based channel:
what each outcome of a send does to the row, the link and the platform's records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask

from crm_plugin import PluginState
from crm_plugin.core.models import EmployeeLink, LinkStatus, MessageStatus, utcnow
from crm_plugin.delivery.outbox import resend
from crm_plugin.delivery.sender import Policy
from crm_plugin.delivery.worker import Worker
from crm_plugin.extension import make_worker

from .fakes.server import Fault
from .fakes.telegram import FakeTelegram
from .worker_helpers import TOKEN, add_telegram_bot, enqueue_texts, rows, wait_until


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
def bot_id(app: Flask, state: PluginState, fake: FakeTelegram) -> int:
    return add_telegram_bot(app, state, fake.url)


@pytest.fixture
def worker(app: Flask) -> Iterator[Worker]:
    worker = make_worker(app, poll=0.05, policy=Policy(backoff_base=0.1))
    yield worker
    worker.stop()


def test_queued_message_is_sent_and_logged(state: PluginState, fake: FakeTelegram, bot_id: int,
                                           worker: Worker) -> None:
    [message_id] = enqueue_texts(state, bot_id, [("42", "Новый замер")])

    assert worker.drain(10)

    [row] = rows(state)
    [sent] = fake.sent_messages("42")
    assert sent.text == "Новый замер"
    assert row.id == message_id and row.status is MessageStatus.SENT
    assert row.platform_message_id == str(sent.message_id)
    assert row.sent_at is not None and row.attempts == 0
    assert row.claimed_by == worker.id and row.claimed_until is None  # who sent it; no lease left


def test_retry_after_is_waited_out(state: PluginState, fake: FakeTelegram, bot_id: int, worker: Worker) -> None:
    fake.too_many_requests(retry_after=1)
    enqueue_texts(state, bot_id, [("42", "первое")])
    before = utcnow()

    worker.run_once()

    [row] = rows(state)
    assert row.status is MessageStatus.QUEUED and row.attempts == 0  # a 429 is not a failed attempt
    assert row.next_attempt_at is not None and row.next_attempt_at >= before + timedelta(seconds=1)
    assert "429" in (row.error or "")

    assert worker.drain(10)
    calls = fake.calls("sendMessage")
    assert [m.text for m in fake.sent_messages("42")] == ["первое"]
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 1.0  # nothing sent inside the window
    assert fake.rate_limited == 0
    [row] = rows(state)
    assert row.status is MessageStatus.SENT and row.error is None


@pytest.mark.parametrize("inject", [
    lambda fake: fake.server_error(500),
    lambda fake: fake.server_error(502),  # a proxy's HTML page
    lambda fake: fake.drop_connection(),
], ids=["500", "502-html", "dropped-connection"])
def test_transient_failure_is_retried_then_sent(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                worker: Worker, inject: object) -> None:
    inject(fake)  # type: ignore[operator]
    enqueue_texts(state, bot_id, [("42", "повтор")])

    worker.run_once()
    [row] = rows(state)
    assert row.status is MessageStatus.QUEUED and row.attempts == 1 and row.error

    assert worker.drain(10)
    [row] = rows(state)
    assert row.status is MessageStatus.SENT and row.attempts == 1
    assert [m.text for m in fake.sent_messages("42")] == ["повтор"]
    assert len(fake.calls("sendMessage")) == 2


def test_gives_up_after_max_attempts(app: Flask, state: PluginState, fake: FakeTelegram, bot_id: int) -> None:
    fake.server_error(500, times=3)
    worker = make_worker(app, poll=0.05, policy=Policy(backoff_base=0.01, max_attempts=3))
    enqueue_texts(state, bot_id, [("42", "не дойдёт")])

    assert worker.drain(10)
    worker.stop()

    [row] = rows(state)
    assert row.status is MessageStatus.FAILED and row.attempts == 3
    assert "500" in (row.error or "")
    assert len(fake.calls("sendMessage")) == 3 and fake.sent_messages() == []


def test_permanent_error_fails_at_once_with_the_error(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                      worker: Worker) -> None:
    fake.forget_chat("77")
    enqueue_texts(state, bot_id, [("77", "кому?")])

    assert worker.drain(10)

    [row] = rows(state)
    assert row.status is MessageStatus.FAILED
    assert "chat not found" in (row.error or "")
    assert len(fake.calls("sendMessage")) == 1  # no retries


def test_blocked_bot_fails_and_marks_the_link_unreachable(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                          worker: Worker) -> None:
    with state.db.session() as session:
        link = EmployeeLink(bot_id=bot_id, crm_user_id=7, platform_user_id="55", chat_id="55",
                            status=LinkStatus.BOUND)
        other = EmployeeLink(bot_id=bot_id, crm_user_id=8, platform_user_id="56", chat_id="56",
                             status=LinkStatus.BOUND)
        session.add_all([link, other])
        session.flush()
        link_id, other_id = link.id, other.id
    fake.block("55")
    enqueue_texts(state, bot_id, [("55", "новая заявка")], link_id=link_id)

    assert worker.drain(10)

    [row] = rows(state)
    assert row.status is MessageStatus.FAILED and "blocked" in (row.error or "")
    with state.db.session() as session:
        assert session.get(EmployeeLink, link_id).status is LinkStatus.UNREACHABLE  # type: ignore[union-attr]
        assert session.get(EmployeeLink, other_id).status is LinkStatus.BOUND  # type: ignore[union-attr]


def test_unreachable_link_is_found_by_chat_without_link_id(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                           worker: Worker) -> None:
    with state.db.session() as session:
        link = EmployeeLink(bot_id=bot_id, crm_user_id=7, platform_user_id="55", chat_id="55",
                            status=LinkStatus.BOUND)
        session.add(link)
        session.flush()
        link_id = link.id
    fake.block("55", "Forbidden: user is deactivated")
    enqueue_texts(state, bot_id, [("55", "привет")])

    assert worker.drain(10)

    with state.db.session() as session:
        assert session.get(EmployeeLink, link_id).status is LinkStatus.UNREACHABLE  # type: ignore[union-attr]


def test_send_again_puts_a_failed_row_back(state: PluginState, fake: FakeTelegram, bot_id: int,
                                           worker: Worker) -> None:
    fake.block("55")
    [message_id] = enqueue_texts(state, bot_id, [("55", "ещё раз")])
    assert worker.drain(10)
    assert rows(state)[0].status is MessageStatus.FAILED

    fake.unblock("55")
    with state.db.session() as session:
        assert resend(session, message_id)
        assert not resend(session, message_id)  # already queued again: nothing to do
    assert worker.drain(10)

    [row] = rows(state)
    assert row.status is MessageStatus.SENT and row.attempts == 0
    assert [m.text for m in fake.sent_messages("55")] == ["ещё раз"]


def test_token_never_reaches_the_stored_error(state: PluginState, fake: FakeTelegram, bot_id: int,
                                              worker: Worker) -> None:
    body = {"ok": False, "error_code": 400, "description": f"Bad Request: see https://x/bot{TOKEN}/sendMessage"}
    fake.inject(Fault(status=400, body=body))
    enqueue_texts(state, bot_id, [("42", "секрет")])

    assert worker.drain(10)

    [row] = rows(state)
    assert row.status is MessageStatus.FAILED and "Bad Request" in (row.error or "")
    assert TOKEN not in (row.error or "") and "abc" not in (row.error or "")


def test_per_chat_order_kept_under_concurrency_and_retries(app: Flask, state: PluginState, fake: FakeTelegram,
                                                           bot_id: int) -> None:
    # Faster per-chat limits than Telegram's 1 a second keep the test short; the order rule is the same.
    fake.set_limits(per_chat=(20, 1.0))
    worker = make_worker(app, poll=0.05, concurrency=8, policy=Policy(backoff_base=0.1, per_chat_rate=15))
    items = [(chat, f"{chat}-{n}") for n in range(20) for chat in ("42", "43", "44")]
    enqueue_texts(state, bot_id, items)
    worker.start_thread()
    assert wait_until(lambda: len(fake.sent_messages("42")) >= 8)
    fake.too_many_requests(retry_after=1)  # in the middle of the stream, then more trouble
    fake.server_error(500)
    fake.drop_connection()

    assert worker.drain(20)
    worker.stop()

    for chat in ("42", "43", "44"):
        assert [m.text for m in fake.sent_messages(chat)] == [f"{chat}-{n}" for n in range(20)]
    assert all(row.status is MessageStatus.SENT for row in rows(state))
    assert sum(row.attempts for row in rows(state)) == 2  # the 500 and the dropped connection


def test_commit_wakes_the_embedded_thread(state: PluginState, fake: FakeTelegram, bot_id: int,
                                          app: Flask) -> None:
    worker = make_worker(app, poll=60.0).start_thread()  # polls once a minute: only a wake-up is quick
    try:
        assert wait_until(lambda: worker.pending() == 0, timeout=5)
        enqueue_texts(state, bot_id, [("42", "сразу")])
        assert wait_until(lambda: fake.sent_messages("42"), timeout=10)
    finally:
        assert worker.stop()
    assert rows(state)[0].status is MessageStatus.SENT


def test_inactive_bot_fails_with_a_reason(state: PluginState, fake: FakeTelegram, bot_id: int,
                                          worker: Worker) -> None:
    from crm_plugin.core.models import Bot

    with state.db.session() as session:
        session.get(Bot, bot_id).active = False  # type: ignore[union-attr]
    enqueue_texts(state, bot_id, [("42", "выключен")])

    assert worker.drain(10)

    [row] = rows(state)
    assert row.status is MessageStatus.FAILED and "switched off" in (row.error or "")
    assert fake.calls("sendMessage") == []


def test_received_message_is_run_through_the_bot_and_answered(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                              worker: Worker) -> None:
    from crm_plugin.core.chat import Inbound, Sender, Start
    from crm_plugin.core.models import Direction
    from crm_plugin.delivery.outbox import log_inbound

    with state.db.session() as session:
        incoming = log_inbound(session, bot_id=bot_id, inbound=Inbound(Sender("900", "900", "Иван"), Start(), "1"))
        session.flush()
        incoming_id = incoming.id

    assert worker.drain(10)

    [row] = rows(state, [incoming_id])
    assert row.status is MessageStatus.HANDLED and row.claimed_by is None
    answers = [r for r in rows(state) if r.direction is Direction.OUT]
    assert answers and all(r.status is MessageStatus.SENT and r.chat_id == "900" for r in answers)
    assert len(fake.sent_messages("900")) == len(answers)


def test_one_chat_is_paced_to_its_limit_without_429s(state: PluginState, fake: FakeTelegram, bot_id: int,
                                                     worker: Worker) -> None:
    # The fake allows 3 messages in any 3 s to one chat; four sent back to back would get a 429.
    enqueue_texts(state, bot_id, [("42", f"часть {n}") for n in range(4)])

    assert worker.drain(15)

    assert [m.text for m in fake.sent_messages("42")] == [f"часть {n}" for n in range(4)]
    assert fake.rate_limited == 0 and len(fake.calls("sendMessage")) == 4
    assert all(row.attempts == 0 and row.error is None for row in rows(state))


def test_embedded_thread_starts_with_the_first_request(database_url: str, fake: FakeTelegram) -> None:
    from crm_plugin import get_state

    from .conftest import make_test_app

    app = make_test_app(database_url, CRM_PLUGIN_WORKER="thread")
    state = get_state(app)
    bot_id = add_telegram_bot(app, state, fake.url)
    try:
        assert state.worker is None
        app.test_client().get("/crm-plugin/health")
        assert isinstance(state.worker, Worker)
        enqueue_texts(state, bot_id, [("42", "из потока")])
        assert wait_until(lambda: fake.sent_messages("42"), timeout=10)
    finally:
        if state.worker is not None:
            state.worker.stop()
        state.db.dispose()
