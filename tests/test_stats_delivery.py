"""Statistics charts from the store to a photo: stored once per key, drawn once for many replies by a real
kaleido + Debian's chromium, uploaded once per bot (Telegram file_id), the caption cut at 1,024 characters; and
the text alone, with the reason in the message log, when Chromium is missing or the image comes out blank."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from crm_plugin import PluginState
from crm_plugin.channels.stats_reply import split_caption
from crm_plugin.core.models import MessageStatus, StatsChart, StatsChartUpload
from crm_plugin.delivery.charts import images_for, store_chart
from crm_plugin.delivery.outbox import resend
from crm_plugin.extension import make_worker
from crm_plugin.stats import ChartRenderer
from crm_plugin.stats.charts import Chart

from .fakes.telegram import FakeTelegram
from .stats_delivery_helpers import assert_real_chart, enqueue_stats, run_renderer, sample_chart, store
from .worker_helpers import TOKEN, add_telegram_bot, rows

TEXT = "📊 Выручка · октябрь 2026\nВсего: 1 234 567 ₽ (+12 %)"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


def send_all(app: Flask, renderer: ChartRenderer, state: PluginState, senders: int = 3) -> None:
    images_for(state.db).renderer = renderer
    worker = make_worker(app, poll=0.05, concurrency=senders, clock_tasks=[])  # no warm-up: ours is given
    try:
        assert worker.drain(30)
    finally:
        worker.stop()


def test_a_chart_is_stored_once_per_key(state: PluginState) -> None:
    chart = sample_chart()
    with state.db.session() as session:
        assert store_chart(session, chart) == chart.key
        assert store_chart(session, chart) == chart.key  # the same transaction names it twice
    with state.db.session() as session:
        store_chart(session, chart)  # a later one too
        stored = session.scalars(select(StatsChart)).all()
    assert [(row.key, row.width, row.height, row.png) for row in stored] == [
        (chart.key, chart.width, chart.height, None)]
    assert stored[0].figure["layout"]["width"] == chart.width


def test_odd_keys_and_labels_are_stored(state: PluginState) -> None:
    """A CRM's metric key of any length, NUL and lone surrogates in labels: stored, the same key each time."""
    figure = {"data": [{"type": "bar", "x": ["Иванов\x00", "\ud800Пётр"], "y": [2**63, 1]}], "layout": {}}
    chart = Chart("series", figure, 720, 520, "stats-series-" + "м" * 300 + "-0123456789abcdef0123")
    with state.db.session() as session:
        key = store_chart(session, chart)
        assert store_chart(session, chart) == key and len(key) <= 200
    with state.db.session() as session:
        [row] = session.scalars(select(StatsChart)).all()
    assert row.key == key and row.figure["data"][0]["x"] == ["Иванов", "\ufffdПётр"]
    assert row.figure["data"][0]["y"] == [2**63, 1]


def test_many_replies_draw_one_chart_and_upload_it_once(app: Flask, state: PluginState, fake: FakeTelegram) -> None:
    renderer = run_renderer()
    chart = sample_chart()
    bot_id = add_telegram_bot(app, state, fake.url)
    key = store(state, chart)
    chats = ["41", "42", "43", "44"]
    ids = enqueue_stats(state, bot_id, chats, TEXT, key)
    before = renderer.renders
    send_all(app, renderer, state)

    assert renderer.renders - before == 1  # four replies, three sender threads, one drawing
    photos = [fake.sent_messages(chat) for chat in chats]
    assert all(len(sent) == 1 and sent[0].method == "sendPhoto" for sent in photos)
    files = [sent[0].files[0] for sent in photos]
    assert sum(f.uploaded for f in files) == 1  # the others went by the returned file_id
    assert len({f.file_id for f in files}) == 1
    uploaded = next(f for f in files if f.uploaded)
    assert_real_chart(uploaded.content, chart)
    assert all(sent[0].caption == TEXT for sent in photos)
    assert photos[0][0].reply_markup == {"inline_keyboard": [[
        {"text": "Другой период", "callback_data": "stats:period"}, {"text": "Меню", "callback_data": "menu"}]]}
    with state.db.session() as session:
        row = session.scalars(select(StatsChart)).one()
        upload = session.scalars(select(StatsChartUpload)).one()
    assert row.png == uploaded.content and row.rendered_at is not None and row.error is None
    assert (upload.bot_id, upload.chart_key, upload.platform_file_id) == (bot_id, key, uploaded.file_id)
    sent = rows(state, ids)
    assert all(r.status is MessageStatus.SENT and r.error is None and r.kind == "stats" for r in sent)


def test_a_long_text_goes_as_caption_and_a_following_message(app: Flask, state: PluginState,
                                                              fake: FakeTelegram) -> None:
    chart = sample_chart()
    bot_id = add_telegram_bot(app, state, fake.url)
    key = store(state, chart)
    lines = [f"{i:>2}. Сотрудник {i}: {i * 12_345} ₽ · {i} %" for i in range(1, 60)]
    text = "\n".join(lines)
    assert len(text) > 1024
    enqueue_stats(state, bot_id, ["42"], text, key)
    send_all(app, run_renderer(), state, senders=1)

    photo, rest = fake.sent_messages("42")
    assert photo.method == "sendPhoto" and rest.method == "sendMessage"
    assert len(photo.caption or "") <= 1024 and photo.reply_markup is None
    assert f"{photo.caption}\n{rest.text}" == text  # cut at a line break, nothing lost
    assert rest.reply_markup is not None  # the buttons under the last message


def test_without_chromium_the_text_goes_alone_and_the_log_says_why(
        app: Flask, state: PluginState, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
        tmp_path: object) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # Chromium removed from PATH
    chart = sample_chart()
    bot_id = add_telegram_bot(app, state, fake.url)
    key = store(state, chart)
    ids = enqueue_stats(state, bot_id, ["42"], TEXT, key)
    send_all(app, ChartRenderer(), state, senders=1)

    [message] = fake.sent_messages("42")
    assert message.method == "sendMessage" and message.text == TEXT and message.reply_markup is not None
    [row] = rows(state, ids)
    assert row.status is MessageStatus.SENT  # not failed: the text went
    assert row.error is not None and "no Chromium" in row.error and "text went alone" in row.error
    with state.db.session() as session:
        chart_row = session.scalars(select(StatsChart)).one()
    assert chart_row.png is None and "no Chromium" in (chart_row.error or "")

    # Chromium back: the admin's "send again" of this (sent) row is not needed; a failed one resends with
    # its chart (below).
    with state.db.session() as session:
        session.get_one(type(row), row.id).status = MessageStatus.FAILED
        assert resend(session, row.id)
    send_all(app, run_renderer(), state, senders=1)
    again = fake.sent_messages("42")[-1]
    assert again.method == "sendPhoto" and again.caption == TEXT
    [row] = rows(state, ids)
    assert row.status is MessageStatus.SENT and row.error is None


def test_a_blank_image_is_not_sent(app: Flask, state: PluginState, fake: FakeTelegram) -> None:
    blank = Chart("series", {"data": [], "layout": {
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "paper_bgcolor": "white",
        "plot_bgcolor": "white"}}, 300, 200, "stats-series-blank-test")
    bot_id = add_telegram_bot(app, state, fake.url)
    key = store(state, blank)
    ids = enqueue_stats(state, bot_id, ["42"], TEXT, key)
    send_all(app, run_renderer(), state, senders=1)

    [message] = fake.sent_messages("42")
    assert message.method == "sendMessage" and message.text == TEXT
    [row] = rows(state, ids)
    assert row.status is MessageStatus.SENT and "blank" in (row.error or "")


def test_a_chart_that_is_not_stored_leaves_the_text(app: Flask, state: PluginState, fake: FakeTelegram) -> None:
    bot_id = add_telegram_bot(app, state, fake.url)
    ids = enqueue_stats(state, bot_id, ["42"], TEXT, "stats-series-revenue-gone")
    send_all(app, run_renderer(), state, senders=1)
    assert [m.method for m in fake.sent_messages("42")] == ["sendMessage"]
    assert "not stored" in (rows(state, ids)[0].error or "")
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StatsChart)) == 0


@pytest.mark.parametrize(("text", "limit", "caption", "rest"), [
    ("короткий", 1024, "короткий", ""),
    ("a" * 10 + "\n\n" + "b" * 10, 15, "a" * 10, "b" * 10),
    ("aaaa bbbb cccc", 10, "aaaa bbbb", "cccc"),
    ("x" * 30, 10, "x" * 10, "x" * 20),  # no break: cut at the limit
])
def test_split_caption(text: str, limit: int, caption: str, rest: str) -> None:
    assert split_caption(text, limit) == (caption, rest)
