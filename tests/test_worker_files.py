"""Files in outgoing replies: bytes from the CRM gateway on the first send, the platform's file id after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from crm_plugin import PluginState, host
from crm_plugin.core.chat import FileKindOut, MediaReply, OutFile
from crm_plugin.core.models import FileCache, MessageStatus
from crm_plugin.delivery.outbox import enqueue
from crm_plugin.demo.seed import seed
from crm_plugin.extension import make_worker

from .fakes.telegram import FakeTelegram
from .test_demo_gateway import add_job
from .worker_helpers import TOKEN, add_telegram_bot, rows

SHEET = b"%PDF-1.4 measurement sheet"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as server:
        yield server


def test_file_is_uploaded_once_then_sent_by_platform_id(app: Flask, state: PluginState, fake: FakeTelegram) -> None:
    seed(app, orders=0)
    job_id = add_job(app)
    with app.app_context():
        file_id = state.gateway.attach_file(
            job_id, host.NewFile(host.FileKind.MEASUREMENT_SHEET, "замер.pdf", "application/pdf", SHEET), 1)
    bot_id = add_telegram_bot(app, state, fake.url)
    reply = MediaReply((OutFile(FileKindOut.DOCUMENT, file_id, "замер.pdf", "application/pdf"),), "Лист замера")
    worker = make_worker(app, poll=0.05)
    try:
        for chat in ("42", "43"):
            with state.db.session() as session:
                enqueue(session, bot_id=bot_id, chat_id=chat, reply=reply)
            assert worker.drain(10)
    finally:
        worker.stop()

    first, second = fake.sent_messages("42")[0].files[0], fake.sent_messages("43")[0].files[0]
    assert first.uploaded and first.content == SHEET and first.filename == "замер.pdf"
    assert not second.uploaded and second.file_id == first.file_id  # no second upload
    with state.db.session() as session:
        cached = session.scalars(select(FileCache)).all()
    assert [(c.bot_id, c.crm_file_id, c.platform_file_id) for c in cached] == [(bot_id, file_id, first.file_id)]
    assert all(row.status is MessageStatus.SENT for row in rows(state))
