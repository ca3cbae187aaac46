"""Webhook ingest: the product's Telegram webhook against a bare pyTelegramBotAPI echo bot, same WSGI server.

    python bench/ingest.py                                  # temporary SQLite, 50/100/200/400 updates/s, 5 s each
    python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test --seconds 10

Both run under gunicorn (1 process, 8 threads) on loopback; the fake Telegram runs in a process of its own with
no send limits (the bare bot ignores them, so the product's answers would otherwise be paced only on one side).
The load is open-loop: update i is due at i / rate whatever the server does, so a slow server shows as latency
(measured from the time the update was due) instead of a politely slower load. It comes from 64 client threads
whose kept-alive connections the warm-up opens, as Telegram keeps its connections to a webhook; the product is
served from the demo's WSGI module (crm_plugin/demo/wsgi.py). Printed per rate: the accepted rate (200 answers a
second over the run), p50 / p99 of the answer, the time until every update was answered in the chat (for the
product: stored, then the bot's turn and its reply through the worker; replies to that many different people are
paced by Telegram's 30 messages a second), for the product the rate of its bot turns (the updates over the time
until the last one was handled), and its accepted rate as a share of the bare bot's.

    python bench/ingest.py --worker external --workers 2 --database-url postgresql://...   # production set-up

``--worker external``: no worker thread in the web process; ``--workers N`` starts N `flask crm-plugin worker`
processes beside it (0: ingest alone, nothing answered). Run it from the repository root.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from bench.broadcast import database  # noqa: E402
from bench.multibot import fake_telegram  # noqa: E402
from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.db import normalise_url, plugin_database_url  # noqa: E402
from crm_plugin.core.models import Bot, Direction, Message, MessageStatus, Platform  # noqa: E402
from tests.worker_helpers import stop_process, worker_process  # noqa: E402

log = logging.getLogger("bench.ingest")

TOKEN = "555:ingest-token"
SECRET = "ingest-secret"
RATES = (50, 100, 200, 400)
CLIENT_THREADS = 64
# The bare bot: what a developer writes from pyTelegramBotAPI's webhook example (Flask), answering inline.
ECHO_BOT = '''
import os, telebot
from flask import Flask, request
from telebot import apihelper
apihelper.API_URL = os.environ["FAKE_URL"] + "/bot{0}/{1}"
bot = telebot.TeleBot(os.environ["TOKEN"], threaded=False)
app = Flask(__name__)

@bot.message_handler(func=lambda message: True)
def echo(message):
    bot.send_message(message.chat.id, message.text)

@app.post("/webhook")
def webhook():
    bot.process_new_updates([telebot.types.Update.de_json(request.get_data().decode("utf-8"))])
    return ""
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app_spec: str, env: dict[str, str], cwd: str, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "8", "-b", f"127.0.0.1:{port}",
               "--log-level", "warning", app_spec]
    with open(log_path, "ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/", timeout=5)
            return process, base
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{app_spec} did not start; see {log_path}")


def _update(n: int) -> bytes:
    user = {"id": 700_000 + n, "is_bot": False, "first_name": "Нагрузка", "language_code": "ru"}
    return json.dumps({"update_id": 10_000 + n, "message": {
        "message_id": n + 1, "from": user, "chat": {"id": user["id"], "type": "private", "first_name": "Нагрузка"},
        "date": int(time.time()), "text": f"привет {n}"}}).encode()


def _turns_left(database_url: str) -> Callable[[], int]:
    """How many stored updates still wait for their bot turn."""
    plugin_url = plugin_database_url(None, database_url) or database_url  # on SQLite: the plugin's own file
    engine = create_engine(normalise_url(plugin_url))  # plain reads: not the plugin's BEGIN IMMEDIATE on SQLite
    query = select(func.count()).select_from(Message).where(Message.direction == Direction.IN,
                                                            Message.status == MessageStatus.RECEIVED)

    def left() -> int:
        with engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    return left


class Client:
    """The load's senders: CLIENT_THREADS threads, each with a kept-alive connection, as Telegram keeps its
    connections to a webhook open (up to 40 by default) instead of opening one per update."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(CLIENT_THREADS)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            self._sessions.append(session)
        return session

    def close(self) -> None:
        self.pool.shutdown()
        for session in self._sessions:
            session.close()


def load(client: Client, url: str, rate: int, seconds: float, first: int, fake: Any, answers: bool = True,
         turns_left: Callable[[], int] | None = None) -> dict[str, float]:
    """Send rate * seconds updates open-loop; return accepted rate, p50/p99 (ms), the time to all answers and
    (``turns_left``: the product with a worker) the rate of bot turns."""
    total = int(rate * seconds)
    fake.send("count")
    sent_before = fake.recv()
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    start = time.perf_counter() + 0.2

    def one(i: int) -> None:
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            ok = client.session().post(url, data=_update(first + i), headers=headers, timeout=30).status_code == 200
        except requests.RequestException:
            ok = False
        with lock:
            results.append((time.perf_counter() - due, ok))

    list(client.pool.map(one, range(total)))
    finished = time.perf_counter()
    turns = 0.0
    while turns_left is not None:  # every update's bot turn done
        if turns_left() == 0 or time.perf_counter() - finished > 120:
            turns = total / (time.perf_counter() - start)
            break
        time.sleep(0.05)
    while answers:  # every update answered in its chat
        fake.send("count")
        if fake.recv() - sent_before >= total or time.perf_counter() - finished > 120:
            break
        time.sleep(0.05)
    answered = time.perf_counter() - start
    latencies = sorted(latency for latency, _ok in results)
    accepted = sum(ok for _latency, ok in results)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"accepted_rate": accepted / (finished - start), "accepted": accepted, "total": total,
            "p50": quantiles[49] * 1000, "p99": quantiles[98] * 1000, "all_answered": answered, "turns": turns}


def run(database_url: str | None, rates: tuple[int, ...], seconds: float,
        worker: str = "thread", workers: int = 0) -> dict[str, dict[int, dict[str, float]]]:
    from crm_plugin.demo import create_app, init_db

    figures: dict[str, dict[int, dict[str, float]]] = {"bare": {}, "product": {}}
    with database(database_url) as url, tempfile.TemporaryDirectory() as work, \
            fake_telegram([TOKEN], limits=False) as (fake_url, fake):
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external"})
        init_db(app)
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="ingest", webhook_secret=SECRET,
                      credentials_encrypted=state.secrets.seal({"token": TOKEN}))
            session.add(bot)
            session.flush()
            bot_id = bot.id
        state.db.dispose()
        Path(work, "echo_bot.py").write_text(ECHO_BOT)
        servers = {
            "bare": ("echo_bot:app", {"FAKE_URL": fake_url, "TOKEN": TOKEN}, work, "/webhook"),
            "product": ("crm_plugin.demo.wsgi:app", {
                "FLASK_SECRET_KEY": "bench", "FLASK_SQLALCHEMY_DATABASE_URI": url, "FLASK_CRM_PLUGIN_WORKER": worker,
                "FLASK_CRM_PLUGIN_TELEGRAM_API_URL": fake_url}, str(ROOT), f"/crm-plugin/webhook/{bot_id}"),
        }
        first = 0
        for name, (spec, env, cwd, path) in servers.items():
            process, base = _serve(spec, env, cwd, Path(work, f"{name}.log"))
            others = [worker_process(url, fake_url, Path(work, f"worker{n}.log"), secret_key="bench")
                      for n in range(workers if name == "product" and worker == "external" else 0)]
            client = Client()
            try:
                answers = name == "bare" or worker == "thread" or bool(others)
                turns_left = _turns_left(url) if name == "product" and answers else None
                # Warm up: imports, workers, and one update per client thread, which opens its connection.
                load(client, base + path, CLIENT_THREADS, 1, first, fake, answers, turns_left)
                first += CLIENT_THREADS
                for rate in rates:
                    figures[name][rate] = load(client, base + path, rate, seconds, first, fake, answers, turns_left)
                    first += int(rate * seconds)
            finally:
                client.close()
                for other in others:
                    stop_process(other)
                process.terminate()
                process.wait(30)
        fake.send("results")
        fake.recv()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL URL (a temporary schema is used); default: temp SQLite")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load at each rate")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="updates a second, comma-separated")
    parser.add_argument("--worker", choices=["thread", "external"], default="thread",
                        help="external: no worker thread in the server")
    parser.add_argument("--workers", type=int, default=0,
                        help="with --worker external: worker processes beside the server (0: nothing is answered)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    rates = tuple(int(r) for r in args.rates.split(","))
    figures = run(args.database_url, rates, args.seconds, args.worker, args.workers)
    where = "a worker thread in it" if args.worker == "thread" else f"{args.workers} worker processes beside it"
    log.info("webhook ingest, %s, gunicorn 1 process x 8 threads with %s, %.0f s a rate",
             "postgresql" if args.database_url else "sqlite", where, args.seconds)
    log.info("%6s | %-49s | %-49s | %-11s | %s", "rate", "bare pyTelegramBotAPI echo bot", "product webhook",
             "bot turns", "ratio")
    for rate in rates:
        bare, product = figures["bare"][rate], figures["product"][rate]
        cells = [f"{f['accepted_rate']:6.1f}/s p50 {f['p50']:6.1f} ms p99 {f['p99']:7.1f} ms "
                 f"all {f['all_answered']:5.1f} s" for f in (bare, product)]
        log.info("%6d | %s | %s | %6.1f/s | %.2f", rate, cells[0], cells[1], product["turns"],
                 product["accepted_rate"] / bare["accepted_rate"])
    top, hundred = max(rates), figures["product"].get(100)
    ok = figures["product"][top]["accepted_rate"] >= 0.75 * figures["bare"][top]["accepted_rate"]
    ok &= hundred is None or hundred["p99"] < 50
    log.info("target (>= 75%% of the bare bot at %d/s, p99 < 50 ms at 100/s): %s", top, "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
