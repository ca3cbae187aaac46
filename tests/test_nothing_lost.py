"""Nothing lost, nothing twice (issue 11): the work after a stored update is retried like a send, a VK retry
is not shown twice, a file is downloaded with no transaction open, keyboard state lives in the database, and
a host signal whose job the plugin cannot see yet is looked at again by the worker, off the CRM's request."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from crm_plugin import host
from crm_plugin.bot import host_events
from crm_plugin.core.chat import TextReply
from crm_plugin.core.models import Direction, Message, MessageStatus
from crm_plugin.delivery.outbox import enqueue, resend
from crm_plugin.delivery.sender import Policy
from crm_plugin.demo.models import Lead, db
from crm_plugin.extension import make_worker
from crm_plugin.host import JobKind, Role

from .fakes.server import Fault
from .fakes.slack import FakeSlack
from .fakes.telegram import FakeTelegram
from .fakes.vk import FakeVk
from .flows.people import ids
from .flows.slack import (
    SlackUser,
    slack_bot,
    slack_fixture,  # noqa: F401  (fixture)
)
from .flows.telegram import (
    TELEGRAM_SECRET,
    TelegramUser,
    telegram_bot,
    telegram_fixture,  # noqa: F401  (fixture)
)
from .flows.vk import (
    vk_bot,
    vk_fixture,  # noqa: F401  (fixture)
)
from .flows.world import FAST_CHAT_RATE, PHOTOS, Flow, flow_fixture, local_moment  # noqa: F401  (fixture)

LEADS_CHANNEL = "C0LEADS01"
AUTHOR = "U061F7AUR"


def leads(flow: Flow) -> list[Lead]:
    with flow.app.app_context():
        return list(db.session.scalars(select(Lead).order_by(Lead.id)))


def lead_rows(flow: Flow, bot_id: int) -> list[Message]:
    return [m for m in flow.incoming(bot_id) if m.kind == "lead"]


def _channel_message(slack: FakeSlack, text: str) -> bytes:
    ts = f"{time.time():.6f}"
    return json.dumps({"type": "event_callback", "team_id": slack.team_id, "event_id": f"Ev{next(ids)}",
                       "event_time": int(time.time()), "event": {
                           "type": "message", "text": text, "user": AUTHOR, "ts": ts, "channel": LEADS_CHANNEL,
                           "event_ts": ts, "channel_type": "channel"}}, ensure_ascii=False).encode()


def post_lead(flow: Flow, slack: FakeSlack, bot_id: int, text: str = "Нужны окна, 3 шт. +7 916 123-45-67") -> None:
    """A message in the sales channel, POSTed as Slack does; the worker is not run."""
    author = SlackUser(flow, bot_id, slack, AUTHOR, dm_channel="D0DM00001")
    body = _channel_message(slack, text)
    author._post(body, author._sign(body))


def lead_bot(flow: Flow, slack: FakeSlack) -> int:
    bot_id = slack_bot(flow, slack)
    slack.add_channel(LEADS_CHANNEL)
    slack.add_user(AUTHOR, real_name="Рустам Галиев", display_name="Рустам")
    return bot_id


# --- 1. leads are retried, not lost -----------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    Fault(status=500, body={"ok": False, "error": "internal_error"}, method="users.info"),
    Fault(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}, method="users.info"),
    Fault(drop=True, method="users.info"),
], ids=["500", "429", "dropped"])
def test_a_transient_error_of_the_authors_lookup_is_retried_and_the_lead_kept(flow: Flow, slack: FakeSlack,
                                                                              fault: Fault) -> None:
    bot_id = lead_bot(flow, slack)
    slack.inject(fault)
    post_lead(flow, slack, bot_id)
    flow.run()  # fails on a FAILED row
    [lead] = leads(flow)
    assert (lead.name, lead.source) == ("Рустам", f"slack:{LEADS_CHANNEL}")
    assert len(slack.calls("users.info")) == 2  # the failed lookup, then the one that answered
    [row] = lead_rows(flow, bot_id)
    assert row.status is MessageStatus.HANDLED and row.error is None


def test_the_crms_transient_error_is_retried_and_a_permanent_one_fails_visibly(flow: Flow,
                                                                               slack: FakeSlack) -> None:
    bot_id = lead_bot(flow, slack)
    gateway = flow.state.gateway
    real = gateway.create_lead
    answers: list[Exception | None] = [OperationalError("INSERT INTO leads", {}, Exception("database is locked")),
                                       ValueError("the CRM refuses this lead: no text")]

    def flaky(draft: host.LeadDraft) -> int:
        if answers:
            failure = answers.pop(0)
            if failure is not None:
                raise failure
        return real(draft)

    gateway.create_lead = flaky  # type: ignore[method-assign, assignment]
    post_lead(flow, slack, bot_id)
    assert flow.worker.drain(timeout=15)
    [row] = lead_rows(flow, bot_id)
    assert row.status is MessageStatus.FAILED and row.attempts == 1  # once transient, then the permanent one
    assert row.error == "ValueError: the CRM refuses this lead: no text" and leads(flow) == []

    with flow.state.db.session() as session:  # the admin's «Отправить снова», once the CRM is fixed
        assert resend(session, row.id)
    flow.run()
    [lead] = leads(flow)
    assert lead.name == "Рустам" and lead_rows(flow, bot_id)[0].status is MessageStatus.HANDLED


def test_an_author_slack_does_not_know_does_not_cost_the_lead(flow: Flow, slack: FakeSlack) -> None:
    bot_id = slack_bot(flow, slack)  # users.info answers user_not_found: permanent, and the lead still counts
    slack.add_channel(LEADS_CHANNEL)
    post_lead(flow, slack, bot_id)
    flow.run()
    [lead] = leads(flow)
    assert lead.name is None and "+7 916 123-45-67" in lead.text
    [row] = lead_rows(flow, bot_id)
    assert row.status is MessageStatus.HANDLED and "user_not_found" in (row.error or "")


# --- 2. VK: a retried send carries the same random_id -------------------------------------------------------

def test_a_vk_send_whose_answer_was_lost_is_retried_with_the_same_random_id(flow: Flow, vk: FakeVk) -> None:
    bot_id = vk_bot(flow, vk)
    peer = "501000777"
    with flow.state.db.session() as session:
        row = enqueue(session, bot_id=bot_id, chat_id=peer, reply=TextReply("Новая заявка на замер"))
        session.flush()
        row_id = row.id
    vk.inject(Fault(lose_answer=True, method="messages.send"))  # VK posts it; the answer never arrives
    flow.run()
    first, retry = vk.calls("messages.send")
    assert first.params["random_id"] == retry.params["random_id"]
    [shown] = vk.sent_messages(peer)  # VK dropped the repeat
    assert shown.text == "Новая заявка на замер"
    [sent] = [m for m in flow.outbox(peer) if m.id == row_id]
    assert sent.status is MessageStatus.SENT and sent.attempts == 1 and sent.platform_message_id == str(
        shown.message_id)


# --- 3. a file is downloaded before the turn's transaction -------------------------------------------------

@pytest.fixture
def connections_held(flow: Flow) -> Iterator[dict[int, str]]:
    """Connections of the plugin's engine checked out now, by the name of the thread holding each."""
    held: dict[int, str] = {}

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        held[id(record)] = threading.current_thread().name

    def checkin(dbapi_connection: Any, record: Any) -> None:
        held.pop(id(record), None)

    engine = flow.state.db.engine
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    yield held
    event.remove(engine, "checkout", checkout)
    event.remove(engine, "checkin", checkin)


def test_a_slow_download_holds_no_transaction_and_webhooks_are_accepted_meanwhile(
        flow: Flow, telegram: FakeTelegram, connections_held: dict[int, str]) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer)
    person = TelegramUser(flow, bot_id, telegram, 111_900).bind_by_invite(measurer)
    other = TelegramUser(flow, bot_id, telegram, 111_901)
    person.press(f"photos:{job_id}")
    assert person.last_text().startswith("Заказ №")  # the chat waits for photos

    arrived, release = threading.Event(), threading.Event()
    telegram.inject(Fault(method="file", arrived=arrived, release=release))  # the download hangs until released
    file_id = telegram.add_file(PHOTOS[0], file_path=f"photos/file_{next(ids)}.jpg")
    photo = {"update_id": next(ids), "message": {
        "message_id": next(ids), "from": person.user, "chat": person.chat, "date": int(time.time()),
        "photo": [{"file_id": file_id, "file_unique_id": "u1", "width": 1280, "height": 960,
                   "file_size": len(PHOTOS[0])}]}}
    person.mark()
    person._post(json.dumps(photo).encode(), {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    worker = threading.Thread(target=flow.worker.drain, kwargs={"timeout": 40}, name="drain")
    worker.start()
    accepted = threading.Event()
    try:
        assert arrived.wait(15), "the worker never started the download"
        in_flight = [name for name in connections_held.values() if name.startswith("crm-plugin-sender")]
        assert in_flight == [], "a sender holds a database connection (a transaction) during the download"

        def webhook() -> None:
            other._post(json.dumps(other._message(text="/start")).encode(),
                        {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
            accepted.set()

        threading.Thread(target=webhook, name="webhook", daemon=True).start()
        assert accepted.wait(15), "the webhook waited behind the download"
        assert not release.is_set()  # and the download was still in flight when it was accepted
    finally:
        release.set()
        worker.join(45)
    flow.run()
    assert [f.name for f in flow.crm_files(job_id)] and len(flow.crm_files(job_id)) == 1
    assert person.last_text().startswith("Получено 1 фото: фото объекта.")
    assert other.inbox(), "the other person was answered"


def test_a_transient_download_failure_is_retried_not_apologised_for(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 0, 15, 30), measurer)
    person = TelegramUser(flow, bot_id, telegram, 111_902).bind_by_invite(measurer)
    person.press(f"photos:{job_id}")
    telegram.server_error(502, method="file")
    person.send_photos(PHOTOS[:1])
    assert person.texts() == [person.last_text()] and person.last_text().startswith("Получено 1 фото: фото объекта.")
    assert len(flow.crm_files(job_id)) == 1 and len(telegram.calls("file")) == 2


# --- 4. keyboard state lives in the chat's stored state ---------------------------------------------------

def test_the_reply_keyboard_is_removed_by_a_worker_that_never_saw_it(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    flow.user("volkov", Role.MEASURER, name="Волков Сергей Андреевич")
    person = TelegramUser(flow, bot_id, telegram, 111_910)
    person.start()
    [welcome] = person.last_replies()
    assert welcome.raw.reply_markup["keyboard"][0][0]["request_contact"] is True

    flow.worker.stop()  # a restart: the next answer goes out through new channel objects
    flow.worker = make_worker(flow.app, poll=0.05, policy=Policy(per_chat_rate=FAST_CHAT_RATE, backoff_base=0.05))
    person.text("volkov")
    first, *rest = person.last_replies()
    assert first.raw.reply_markup == {"remove_keyboard": True}
    assert all(m.raw.reply_markup != {"remove_keyboard": True} for m in rest)
    person.text("ещё раз")
    assert all(m.raw.reply_markup != {"remove_keyboard": True} for m in person.last_replies())  # once only


# --- 5. a host signal sent before the CRM's commit ---------------------------------------------------------

def invisible_for(flow: Flow, looks: int) -> list[int]:
    """The CRM's gateway shows no job for the first ``looks`` looks (the host's transaction has not committed)."""
    gateway = flow.state.gateway
    real, seen = gateway.get_job, []

    def get_job(job_id: int) -> Any:
        seen.append(job_id)
        return None if len(seen) <= looks else real(job_id)

    gateway.get_job = get_job  # type: ignore[method-assign, assignment]
    return seen


def test_a_signal_sent_before_the_commit_is_delivered_by_the_worker(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    person = TelegramUser(flow, bot_id, telegram, 111_920).bind_by_invite(measurer)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 1, 10, 0), measurer)
    looks = invisible_for(flow, 2)
    person.mark()
    host.measurement_requested.send(flow.app, job_id=job_id)  # returns at once: nothing waits in the request
    assert looks == [job_id] and person.last_replies() == []
    [stored] = [m for m in flow.incoming(bot_id) if m.kind == host_events.KIND]
    assert stored.status is MessageStatus.RECEIVED and stored.direction is Direction.IN
    flow.run()
    [notice] = person.last_replies()
    assert notice.text.startswith("Новый замер для вас:") and looks == [job_id] * 3
    [done] = [m for m in flow.incoming(bot_id) if m.kind == host_events.KIND]
    assert done.status is MessageStatus.HANDLED and done.error is None


def test_a_job_that_never_appears_is_looked_for_briefly_then_logged(flow: Flow, telegram: FakeTelegram,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    bot_id = telegram_bot(flow, telegram)
    looks = invisible_for(flow, 1000)
    with caplog.at_level(logging.WARNING, logger="crm_plugin"):
        host.job_cancelled.send(flow.app, job_id=424242)
        flow.run()
    assert looks == [424242] * (1 + len(host_events.RETRY_DELAYS))
    [row] = [m for m in flow.incoming(bot_id) if m.kind == host_events.KIND]
    assert row.status is MessageStatus.HANDLED and "no job 424242" in (row.error or "")
    assert "host event job-cancelled {'job_id': 424242} dropped" in caplog.text


def test_a_failing_crm_during_a_signal_is_retried_by_the_worker(flow: Flow, telegram: FakeTelegram) -> None:
    bot_id = telegram_bot(flow, telegram)
    measurer = flow.user("volkov", Role.MEASURER)
    person = TelegramUser(flow, bot_id, telegram, 111_921).bind_by_invite(measurer)
    job_id = flow.job(JobKind.MEASUREMENT, local_moment(flow, 1, 10, 0), measurer)
    gateway = flow.state.gateway
    real, calls = gateway.get_job, []

    def get_job(wanted: int) -> Any:
        calls.append(wanted)
        if len(calls) == 1:
            raise OperationalError("SELECT jobs", {}, Exception("server closed the connection unexpectedly"))
        return real(wanted)

    gateway.get_job = get_job  # type: ignore[method-assign, assignment]
    person.mark()
    host.measurement_requested.send(flow.app, job_id=job_id)  # logged, never raised into the CRM's request
    flow.run()
    [notice] = person.last_replies()
    assert notice.text.startswith("Новый замер для вас:")
    assert [m.status for m in flow.incoming(bot_id) if m.kind == host_events.KIND] == [MessageStatus.HANDLED]
