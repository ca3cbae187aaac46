"""Broadcast benchmark: one Telegram bot, one message to each of N chats, through the real worker.

    python bench/broadcast.py                       # 1,000 chats, temporary SQLite
    python bench/broadcast.py --messages 300
    python bench/broadcast.py --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/broadcast.py --redis-url redis://127.0.0.1:6379/0   # the limiter shared through Redis

The fake Telegram server (tests/fakes/telegram.py) enforces the real limits: 30 messages a second per bot,
about 1 a second per chat, answering 429 with retry_after. The worker runs as the embedded thread, woken by
the commit that queued the broadcast. Printed: the achieved rate as a share of 30 msg/s, messages lost
(queued minus delivered per the fake's records), 429s, duplicates, p50/p95 latency from enqueue to arrival.
Run it from the repository root (it imports tests.fakes).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.chat import TextReply  # noqa: E402
from crm_plugin.core.db import normalise_url  # noqa: E402
from crm_plugin.core.models import Bot, Message, MessageStatus, Platform  # noqa: E402
from crm_plugin.delivery.outbox import enqueue  # noqa: E402
from crm_plugin.delivery.ratelimit import limiter_from_url  # noqa: E402
from crm_plugin.extension import make_worker  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

log = logging.getLogger("bench.broadcast")

TOKEN = "777:bench-token"
BOT_LIMIT = 30.0


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A throw-away database: a temporary SQLite file, or a fresh schema on the PostgreSQL given."""
    if not url:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(normalise_url(url)).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(messages: int, database_url: str | None, redis_url: str | None, concurrency: int) -> dict[str, float]:
    from crm_plugin.demo import create_app, init_db

    with database(database_url) as url, FakeTelegram(token=TOKEN) as fake:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external",
                          "CRM_PLUGIN_TELEGRAM_API_URL": fake.url})
        init_db(app)
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench",
                      credentials_encrypted=state.secrets.seal({"token": TOKEN}))
            session.add(bot)
            session.flush()
            bot_id = bot.id
        chats = [str(100_000 + n) for n in range(messages)]
        worker = make_worker(app, concurrency=concurrency, limiter=limiter_from_url(redis_url)).start_thread()
        try:
            enqueued_at = time.monotonic()
            with state.db.session() as session:  # the commit wakes the worker
                for chat in chats:
                    enqueue(session, bot_id=bot_id, chat_id=chat, reply=TextReply(f"Рассылка: новый прайс, чат {chat}"))
            deadline = enqueued_at + messages / BOT_LIMIT * 3 + 30
            while len(fake.sent_messages()) < messages and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # anything still in flight (a duplicate would show up now)
        finally:
            worker.stop()
        with state.db.session() as session:
            sent_rows = session.scalar(select(func.count()).select_from(Message)
                                       .where(Message.status == MessageStatus.SENT)) or 0
        state.db.dispose()
        return _figures(fake, chats, enqueued_at, sent_rows)


def _figures(fake: FakeTelegram, chats: list[str], enqueued_at: float, sent_rows: int) -> dict[str, float]:
    delivered = Counter(m.chat_id for m in fake.sent_messages())
    arrival: dict[str, float] = {}
    for call in fake.calls("sendMessage"):  # a chat's last call is the one that got through
        arrival[str(call.params.get("chat_id"))] = call.at
    times = sorted(arrival[chat] for chat in delivered if chat in arrival)
    latencies = sorted(t - enqueued_at for t in times)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span if len(times) > 1 else 0.0
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {
        "queued": len(chats),
        "delivered": sum(1 for chat in chats if delivered[chat]),
        "rows_sent": sent_rows,
        "lost": sum(1 for chat in chats if not delivered[chat]),
        "duplicates": sum(count - 1 for count in delivered.values() if count > 1),
        "rate_429": fake.rate_limited,
        "rate": rate,
        "rate_share": rate / BOT_LIMIT,
        "overall_rate": len(times) / (times[-1] - enqueued_at) if times else 0.0,
        "p50": quantiles[49],
        "p95": quantiles[94],
        "first_arrival": latencies[0] if latencies else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="chats to broadcast to, one message each")
    parser.add_argument("--database-url", help="PostgreSQL URL (a temporary schema is used); default: temp SQLite")
    parser.add_argument("--redis-url", help="share the rate limiter through this Redis")
    parser.add_argument("--concurrency", type=int, default=8, help="sender threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake server's access log

    backend = "postgresql" if args.database_url else "sqlite"
    figures = run(args.messages, args.database_url, args.redis_url, args.concurrency)
    log.info("broadcast of %d messages, %s, %s limiter, %d senders", figures["queued"], backend,
             "Redis" if args.redis_url else "in-memory", args.concurrency)
    log.info("  achieved rate     %.2f msg/s = %.1f%% of %.0f msg/s (first to last arrival)",
             figures["rate"], figures["rate_share"] * 100, BOT_LIMIT)
    log.info("  overall           %.2f msg/s from enqueue to the last arrival", figures["overall_rate"])
    log.info("  lost              %d (queued %d, delivered %d, rows SENT %d)", figures["lost"], figures["queued"],
             figures["delivered"], figures["rows_sent"])
    log.info("  429 received      %d", figures["rate_429"])
    log.info("  duplicates        %d", figures["duplicates"])
    log.info("  latency p50 / p95 %.2f s / %.2f s (enqueue to arrival; first arrival %.3f s)",
             figures["p50"], figures["p95"], figures["first_arrival"])
    # The worker paces at 93% of the platform's limit (delivery.sender.Policy.rate_margin): what is left covers
    # our threads' and the network's jitter, so the platform never answers 429.
    ok = figures["lost"] == 0 and figures["duplicates"] == 0 and figures["rate_share"] >= 0.90
    log.info("  target (>= 90%% of 30 msg/s, nothing lost): %s", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
