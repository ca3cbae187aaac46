"""Shared pieces of the worker tests: a Telegram bot row pointed at the fake, enqueueing, reading rows back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.core.chat import TextReply
from crm_plugin.core.models import Bot, Message, Platform
from crm_plugin.delivery.outbox import enqueue
from tests.store_helpers import configure

TOKEN = "123:abc"
ROOT = Path(__file__).resolve().parent.parent


def add_telegram_bot(app: Flask, state: PluginState, fake_url: str, token: str = TOKEN) -> int:
    configure(app, telegram_api_url=fake_url)
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Тест", credentials_encrypted=state.secrets.seal({"token": token}))
        session.add(bot)
        session.flush()
        return bot.id


def enqueue_texts(state: PluginState, bot_id: int, items: list[tuple[str, str]],
                  link_id: int | None = None) -> list[int]:
    """Queue (chat_id, text) pairs in one transaction; returns the row ids in order."""
    with state.db.session() as session:
        rows = [enqueue(session, bot_id=bot_id, chat_id=chat, reply=TextReply(text), link_id=link_id)
                for chat, text in items]
        session.flush()
        return [row.id for row in rows]


def rows(state: PluginState, ids: list[int] | None = None) -> list[Message]:
    with state.db.session() as session:
        query = select(Message).order_by(Message.id)
        if ids is not None:
            query = query.where(Message.id.in_(ids))
        return list(session.scalars(query))


def wait_until(condition: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


def worker_process(database_url: str, fake_url: str, log_path: Path, *args: str,
                   redis_url: str | None = None, secret_key: str = "test-secret") -> subprocess.Popen[bytes]:
    """`flask --app crm_plugin.demo crm-plugin worker` against the test database and the fake Telegram;
    its log goes to ``log_path`` (a pipe nobody reads would fill up and stall it)."""
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_SECRET_KEY": secret_key,  # the bots' tokens are sealed with it
        "FLASK_CRM_PLUGIN_WORKER": "external",
        "FLASK_CRM_PLUGIN_TELEGRAM_API_URL": fake_url,
        "PYTHONUNBUFFERED": "1",
    }
    if redis_url:
        env["FLASK_CRM_PLUGIN_REDIS_URL"] = redis_url
    command = [sys.executable, "-m", "flask", "--app", "crm_plugin.demo", "crm-plugin", "worker", *args]
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM a worker process, SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
