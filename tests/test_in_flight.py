"""Webhook requests go first: the embedded worker starts no bot turn while this process answers one (at most
TURN_YIELD), and turns run as soon as the requests are answered."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from crm_plugin import PluginState
from crm_plugin.core.chat import Inbound, Sender, Text
from crm_plugin.core.in_flight import InFlight
from crm_plugin.core.models import Message, MessageStatus
from crm_plugin.delivery import worker as worker_module
from crm_plugin.delivery.outbox import log_inbound
from crm_plugin.delivery.worker import Worker

from .worker_helpers import add_telegram_bot, rows


def test_wait_quiet_waits_for_the_last_request_and_no_longer() -> None:
    in_flight = InFlight()
    assert in_flight.wait_quiet(0.0)  # nothing in flight
    release = threading.Event()

    def request() -> None:
        with in_flight.request():
            release.wait(5)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    assert not in_flight.wait_quiet(0.05)  # two requests in flight: the wait runs out
    release.set()
    assert in_flight.wait_quiet(5)  # both answered: quiet
    for thread in threads:
        thread.join()


def test_a_turn_waits_while_a_webhook_request_is_answered(app: Flask, state: PluginState,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "TURN_YIELD", 30.0)  # longer than the test: only the answer releases it
    bot_id = add_telegram_bot(app, state, "http://127.0.0.1:9/")
    with state.db.session() as session:
        log_inbound(session, bot_id=bot_id, inbound=Inbound(Sender("7", "7"), Text("привет")))
    started = threading.Event()

    def turn(state: PluginState, message_id: int) -> bool:
        started.set()
        with state.db.session() as session:
            row = session.get(Message, message_id)
            assert row is not None
            row.status, row.claimed_by, row.claimed_until = MessageStatus.HANDLED, None, None
        return True

    worker = Worker.from_settings(state, handle_received=turn, poll=0.05)
    try:
        with state.webhooks.request():  # a webhook request being answered
            assert not worker.drain(0.5)
            assert not started.is_set()  # claimed, and waiting for the request to be answered
        assert worker.drain(10)  # answered: the turn runs at once
    finally:
        worker.stop()
    assert started.is_set() and [row.status for row in rows(state)] == [MessageStatus.HANDLED]
