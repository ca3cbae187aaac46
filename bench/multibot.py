"""Multi-bot benchmark: several Telegram bots at full rate at once, and one bot with a few busy chats.

    python bench/multibot.py                              # both scenarios, temporary SQLite
    python bench/multibot.py --scenario bots --bots 5 --messages 1000
    python bench/multibot.py --scenario chats --chat-messages 300
    python bench/multibot.py --database-url postgresql://postgres@127.0.0.1:5432/test --redis-url redis://...

Scenario "bots": 5 bots x 1,000 messages (each bot to 1,000 chats of its own), all queued in one commit, bot
after bot, so the oldest rows are all the first bot's. The ideal is the sum of the bots' limits (5 x 30 msg/s).
Scenario "chats": one bot, 1,000 messages to 10 chats (100 each); the ideal is 10 x 1 msg/s (Telegram's per-chat
limit), and every chat must receive its messages in the order queued.

The fake Telegram server (tests/fakes/telegram.py) enforces 30 msg/s per bot and 3 per 3 s per chat and answers
429 when exceeded. Printed: the achieved rate as a share of the ideal (first to last arrival), each bot's rate,
lost, duplicates, out-of-order chats and 429 answers. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.broadcast import database  # noqa: E402
from crm_plugin import get_state  # noqa: E402
from crm_plugin.core.chat import TextReply  # noqa: E402
from crm_plugin.core.models import Bot, Platform  # noqa: E402
from crm_plugin.delivery.outbox import enqueue  # noqa: E402
from crm_plugin.delivery.ratelimit import limiter_from_url  # noqa: E402
from crm_plugin.extension import make_worker  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

log = logging.getLogger("bench.multibot")

BOT_LIMIT = 30.0
CHAT_LIMIT = 1.0


@dataclass
class Seen:
    """What the fake platform recorded, brought back from its process."""
    sent: list[tuple[str, str, str]]  # (token, chat id, text) of each message it accepted
    calls: list[tuple[str, str, float]]  # (token, text, monotonic time) of each sendMessage call, 429s too
    rate_limited: int


def _serve_fake(tokens: list[str], pipe: Any, limits: bool = True) -> None:
    """The fake Telegram in a process of its own, as the real one is: it must not share our interpreter's
    lock with the worker being measured (at 150 requests/s it would take half of it)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    unlimited = {} if limits else {"per_bot": None, "per_chat": None, "per_group": None}
    with FakeTelegram(token=tokens[0], **unlimited) as fake:  # type: ignore[arg-type]
        for token in tokens[1:]:
            fake.add_bot(token)
        pipe.send(fake.url)
        while True:
            if pipe.recv() == "count":
                pipe.send(len(fake.sent_messages()))
                continue
            pipe.send(Seen([(m.token, m.chat_id, m.text or "") for m in fake.sent_messages()],
                           [(c.path.split("/")[1][3:], str(c.params.get("text")), c.at)
                            for c in fake.calls("sendMessage")], fake.rate_limited))
            return


@contextmanager
def fake_telegram(tokens: list[str], *, limits: bool = True) -> Iterator[tuple[str, Any]]:
    """The fake Telegram in its own process: yields its URL and the pipe that asks it "count" / "results"."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(tokens, child, limits),
                                                           daemon=True)
    process.start()
    try:
        yield parent.recv(), parent
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()


def run(plan: dict[str, list[str]], ideal: float, database_url: str | None, redis_url: str | None,
        concurrency: int) -> dict[str, float]:
    """Send ``plan`` (token -> chat ids, one message per entry, in order) and measure what the fake saw."""
    from crm_plugin.demo import create_app, init_db

    tokens = list(plan)
    total = sum(len(chats) for chats in plan.values())
    with database(database_url) as url, fake_telegram(tokens) as (fake_url, fake):
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external",
                          "CRM_PLUGIN_TELEGRAM_API_URL": fake_url})
        init_db(app)
        state = get_state(app)
        bot_ids = {}
        with state.db.session() as session:
            for n, token in enumerate(tokens):
                bot = Bot(platform=Platform.TELEGRAM, name=f"bench {n}",
                          credentials_encrypted=state.secrets.seal({"token": token}))
                session.add(bot)
                session.flush()
                bot_ids[token] = bot.id
        worker = make_worker(app, concurrency=concurrency, limiter=limiter_from_url(redis_url),
                             clock_tasks=()).start_thread()
        try:
            cpu_start = time.process_time()
            enqueued_at = time.monotonic()
            with state.db.session() as session:  # one commit wakes the worker
                for token, chats in plan.items():
                    for seq, chat in enumerate(chats):
                        enqueue(session, bot_id=bot_ids[token], chat_id=chat, reply=TextReply(f"#{seq} в чат {chat}"))
            deadline = enqueued_at + total / ideal * 3 + 30
            while time.monotonic() < deadline:
                fake.send("count")
                if fake.recv() >= total:
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # anything still in flight (a duplicate would show up now)
        finally:
            cpu = time.process_time() - cpu_start
            worker.stop()
            fake.send("results")
            seen = fake.recv()
        state.db.dispose()
        figures = _figures(seen, plan, ideal)
        figures["cpu_ms"] = cpu / total * 1000
        return figures


def _figures(seen: Seen, plan: dict[str, list[str]], ideal: float) -> dict[str, float]:
    got = Counter((token, text) for token, _chat, text in seen.sent)
    wanted = Counter((token, f"#{seq} в чат {chat}") for token, chats in plan.items() for seq, chat in enumerate(chats))
    last_call: dict[tuple[str, str], float] = {}  # a message's last call is the one that got through
    for token, text, at in seen.calls:
        last_call[(token, text)] = at
    by_token: dict[str, list[float]] = defaultdict(list)
    for key in got:
        if key in last_call:
            by_token[key[0]].append(last_call[key])
    calls_by_token: dict[str, list[float]] = defaultdict(list)  # every call, those answered 429 too
    for token, _text, at in seen.calls:
        calls_by_token[token].append(at)
    arrivals = sorted(t for times in by_token.values() for t in times)
    for times in by_token.values():
        times.sort()
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    bot_rates = [(len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else 0.0 for ts in by_token.values()]
    out_of_order = 0
    for token in plan:
        seqs: dict[str, list[int]] = defaultdict(list)
        for sender, chat, text in seen.sent:
            if sender == token and text:
                seqs[chat].append(int(text.split()[0][1:]))
        out_of_order += sum(1 for numbers in seqs.values() if numbers != sorted(numbers))
    return {
        "queued": sum(wanted.values()),
        "lost": sum(1 for key in wanted if not got[key]),
        "duplicates": sum(count - 1 for count in got.values() if count > 1),
        "out_of_order": out_of_order,
        "rate_429": seen.rate_limited,
        "rate": rate,
        "share": rate / ideal,
        "slowest_bot": min(bot_rates) if bot_rates else 0.0,
        "fastest_bot": max(bot_rates) if bot_rates else 0.0,
        "span": arrivals[-1] - arrivals[0] if arrivals else 0.0,
        "tightest": min((_tightest(sorted(times), int(BOT_LIMIT) + 1) for times in calls_by_token.values()),
                        default=0.0),
    }


def _tightest(times: list[float], n: int) -> float:
    """The shortest span of ``n`` consecutive calls: under the platform's 1 s window, the n-th is refused. How far
    above 1 s it stays is the pacing's headroom against our threads' jitter."""
    return min((times[i + n - 1] - times[i] for i in range(len(times) - n + 1)), default=float("inf"))


def bots_plan(bots: int, messages: int) -> dict[str, list[str]]:
    return {f"{801 + n}:bench-token-{n}": [str(1_000_000 * (n + 1) + c) for c in range(messages)]
            for n in range(bots)}


def chats_plan(messages: int, chats: int) -> dict[str, list[str]]:
    return {"901:bench-chats": [str(500 + n % chats) for n in range(messages)]}


def report(name: str, figures: dict[str, float], ideal: float, target: float) -> bool:
    ok = (figures["lost"] == 0 and figures["duplicates"] == 0 and figures["rate_429"] == 0
          and figures["out_of_order"] == 0 and figures["share"] >= target)
    log.info("%s: %d messages", name, figures["queued"])
    log.info("  achieved rate     %.1f msg/s = %.1f%% of %.0f msg/s (first to last arrival, %.1f s)",
             figures["rate"], figures["share"] * 100, ideal, figures["span"])
    log.info("  per bot           slowest %.1f msg/s, fastest %.1f msg/s", figures["slowest_bot"],
             figures["fastest_bot"])
    if figures["tightest"] != float("inf"):
        log.info("  tightest %d calls of one bot %.0f ms (under 1000 ms: a 429)", BOT_LIMIT + 1,
                 figures["tightest"] * 1000)
    log.info("  CPU of the worker's process %.2f ms a message", figures["cpu_ms"])
    log.info("  lost %d, duplicates %d, chats out of order %d, 429 received %d", figures["lost"],
             figures["duplicates"], figures["out_of_order"], figures["rate_429"])
    log.info("  target (>= %.0f%% of the ideal, 0 lost/dup/429): %s", target * 100, "met" if ok else "MISSED")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["bots", "chats", "both"], default="both")
    parser.add_argument("--bots", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000, help="messages per bot (scenario bots)")
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--chat-messages", type=int, default=1000, help="messages in all (scenario chats)")
    parser.add_argument("--database-url", help="PostgreSQL URL (a temporary schema is used); default: temp SQLite")
    parser.add_argument("--redis-url", help="share the rate limiter through this Redis")
    parser.add_argument("--concurrency", type=int, default=8, help="sender threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    backend = "postgresql" if args.database_url else "sqlite"
    log.info("multi-bot delivery, %s, %s limiter, %d senders", backend,
             "Redis" if args.redis_url else "in-memory", args.concurrency)
    ok = True
    if args.scenario in ("bots", "both"):
        ideal = args.bots * BOT_LIMIT
        figures = run(bots_plan(args.bots, args.messages), ideal, args.database_url, args.redis_url, args.concurrency)
        ok &= report(f"{args.bots} bots x {args.messages} messages", figures, ideal, 0.90)
    if args.scenario in ("chats", "both"):
        ideal = args.chats * CHAT_LIMIT
        figures = run(chats_plan(args.chat_messages, args.chats), ideal, args.database_url, args.redis_url,
                      args.concurrency)
        ok &= report(f"1 bot, {args.chat_messages} messages to {args.chats} chats", figures, ideal, 0.90)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
