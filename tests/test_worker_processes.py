"""Worker processes (`flask crm-plugin worker`): a crash loses nothing; two workers never send one row twice."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from crm_plugin import PluginState
from crm_plugin.core.models import MessageStatus
from crm_plugin.extension import make_worker

from .fakes.telegram import FakeTelegram
from .worker_helpers import TOKEN, add_telegram_bot, enqueue_texts, rows, stop_process, wait_until, worker_process

REDIS_URL = os.environ.get("CRM_PLUGIN_TEST_REDIS_URL")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_killed_worker_loses_nothing(app: Flask, state: PluginState, fake: FakeTelegram, database_url: str,
                                     tmp_path: Path) -> None:
    bot_id = add_telegram_bot(app, state, fake.url)
    chats = [str(1000 + n) for n in range(30)]
    enqueue_texts(state, bot_id, [(chat, f"job for {chat}") for chat in chats])
    fake.delay(2.0, times=1000)  # every call hangs a while: the worker dies with sends in flight
    log_path = tmp_path / "worker.log"
    process = worker_process(database_url, fake.url, log_path, "--lease", "2", "--poll", "0.1", "--concurrency", "4")
    try:
        assert wait_until(lambda: len(fake.calls("sendMessage")) >= 4), _log(log_path)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        stop_process(process)
    in_flight = {row.chat_id for row in rows(state) if row.status is MessageStatus.SENDING}
    assert in_flight, "the worker should have died with rows claimed"
    with fake._lock:
        fake.faults.clear()

    # A new worker takes the rows over once the dead one's 2 s leases lapse.
    survivor = make_worker(app, poll=0.1)
    assert survivor.drain(30)
    survivor.stop()

    assert all(row.status is MessageStatus.SENT for row in rows(state))
    delivered = Counter(m.chat_id for m in fake.sent_messages())
    assert set(delivered) == set(chats)  # nothing lost
    twice = {chat for chat, count in delivered.items() if count > 1}
    # At-least-once: only a row that was in flight when the worker died may arrive twice.
    assert twice <= in_flight and max(delivered.values()) <= 2


def test_two_workers_never_send_one_row_twice(app: Flask, state: PluginState, fake: FakeTelegram,
                                              database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several worker processes need PostgreSQL (FOR UPDATE SKIP LOCKED); SQLite runs one worker")
    bot_id = add_telegram_bot(app, state, fake.url)
    chats = [str(5000 + n) for n in range(200)]
    enqueue_texts(state, bot_id, [(chat, f"рассылка {chat}") for chat in chats])
    fake.set_limits(per_bot=None)  # two workers without a shared Redis budget would each send 30 a second
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    processes = [worker_process(database_url, fake.url, path, "--poll", "0.1", redis_url=REDIS_URL) for path in logs]
    try:
        assert wait_until(lambda: len(fake.sent_messages()) >= 200, timeout=60), [_log(p)[-2000:] for p in logs]
        assert wait_until(lambda: all(r.status is MessageStatus.SENT for r in rows(state)), timeout=20)
    finally:
        for process in processes:
            stop_process(process)

    delivered = Counter(m.chat_id for m in fake.sent_messages())
    assert delivered == Counter(chats)  # each row exactly once
    assert len({row.claimed_by for row in rows(state)}) == 2  # both workers sent some: they really raced
    assert all(process.returncode == 0 for process in processes), [_log(p)[-2000:] for p in logs]  # SIGTERM: clean


def test_worker_command_sends_and_stops_cleanly_on_sigterm(app: Flask, state: PluginState, fake: FakeTelegram,
                                                           database_url: str, tmp_path: Path) -> None:
    bot_id = add_telegram_bot(app, state, fake.url)
    log_path = tmp_path / "worker.log"
    process = worker_process(database_url, fake.url, log_path, "--poll", "0.1")
    try:
        enqueue_texts(state, bot_id, [("42", "из процесса"), ("43", "и ещё")])
        assert wait_until(lambda: len(fake.sent_messages()) == 2), _log(log_path)
        # CRM_PLUGIN_WORKER_NICE (10): the web server's answers go before the worker's turns
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(ours + 10, 19)
    finally:
        stop_process(process)
    assert process.returncode == 0, _log(log_path)
    assert "stopped" in _log(log_path)
    assert all(row.status is MessageStatus.SENT for row in rows(state))
