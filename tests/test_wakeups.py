"""Wake-ups across processes: a commit made through another engine (as another process would) wakes a worker
that polls only every 30 s, through PostgreSQL NOTIFY, or through Redis where configured."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask

from crm_plugin import get_state
from crm_plugin.core.chat import TextReply
from crm_plugin.core.db import Database
from crm_plugin.delivery.outbox import enqueue
from crm_plugin.extension import make_worker

from .conftest import make_test_app, stop
from .fakes.telegram import FakeTelegram
from .worker_helpers import TOKEN, add_telegram_bot, wait_until

REDIS_URL = os.environ.get("CRM_PLUGIN_TEST_REDIS_URL")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


def _commit_elsewhere(url: str, bot_id: int, chat: str, redis_url: str | None = None) -> None:
    other = Database(url, redis_url=redis_url)  # its own engine and connections: no in-process watcher
    try:
        with other.session() as session:
            enqueue(session, bot_id=bot_id, chat_id=chat, reply=TextReply("из другого процесса"))
    finally:
        other.dispose()


def _worker_app(database_url: str, fake: FakeTelegram, **config: object) -> Flask:
    return make_test_app(database_url, CRM_PLUGIN_TELEGRAM_API_URL=fake.url, **config)


def test_a_commit_in_another_process_wakes_the_worker_via_notify(database_url: str, fake: FakeTelegram) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    app = _worker_app(database_url, fake)
    state = get_state(app)
    bot_id = add_telegram_bot(app, state, fake.url)
    worker = make_worker(app, poll=30.0, clock_tasks=()).start_thread()
    try:
        for n in range(3):  # the first may be found by the listener's look on connecting; the next by NOTIFY
            _commit_elsewhere(state.db.url, bot_id, f"5{n}")
            assert wait_until(lambda n=n: fake.sent_messages(f"5{n}"), timeout=5), "not woken by NOTIFY"
    finally:
        worker.stop()
        stop(app)


@pytest.mark.skipif(not REDIS_URL, reason="CRM_PLUGIN_TEST_REDIS_URL not set")
def test_a_commit_in_another_process_wakes_the_worker_via_redis(database_url: str, fake: FakeTelegram) -> None:
    app = _worker_app(database_url, fake, CRM_PLUGIN_REDIS_URL=REDIS_URL)
    state = get_state(app)
    bot_id = add_telegram_bot(app, state, fake.url)
    worker = make_worker(app, poll=30.0, clock_tasks=()).start_thread()
    try:
        for n in range(3):
            _commit_elsewhere(state.db.url, bot_id, f"6{n}", redis_url=REDIS_URL)
            assert wait_until(lambda n=n: fake.sent_messages(f"6{n}"), timeout=5), "not woken through Redis"
    finally:
        worker.stop()
        stop(app)


def test_a_rolled_back_transaction_notifies_nobody(database_url: str, fake: FakeTelegram) -> None:
    app = _worker_app(database_url, fake)
    state = get_state(app)
    bot_id = add_telegram_bot(app, state, fake.url)
    woken: list[bool] = []
    unwatch = state.db.watch(lambda: woken.append(True))
    try:
        with pytest.raises(RuntimeError), state.db.session() as session:
            enqueue(session, bot_id=bot_id, chat_id="70", reply=TextReply("не уйдёт"))
            raise RuntimeError("the turn failed")
        assert not woken
    finally:
        unwatch()
        stop(app)
