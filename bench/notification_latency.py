"""Notification latency: from the CRM's host event to the message at the (fake) Telegram server.

    python bench/notification_latency.py              # 30 requests, temporary SQLite, embedded worker thread
    python bench/notification_latency.py --requests 50 --database-url postgresql://postgres@127.0.0.1:5432/test
    python bench/notification_latency.py --mode external --database-url postgresql://...   # 2 worker processes
    python bench/notification_latency.py --mode external --redis-url redis://127.0.0.1:6379/0  # SQLite + Redis

The embedded default: the demo CRM with the plugin, the worker as a thread in the process. Each round creates
a measurement request assigned to a bound measurer (a new chat each time, so Telegram's 1 msg/s per chat does
not delay it), sends ``measurement_requested`` as the demo's UI does, and waits until the fake Telegram
server records the notification. Prints p50 / p95 / max. Run it from the repository root.

``--mode external``: the production set-up, two `flask crm-plugin worker` processes and no worker thread in
the process that sends the event; they hear of the stored event through PostgreSQL NOTIFY (or Redis pub/sub
with ``--redis-url``), else only at their next poll (1 s). ``--mode both`` runs one after the other.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.broadcast import database  # noqa: E402
from crm_plugin import get_state, host  # noqa: E402
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Platform  # noqa: E402
from crm_plugin.extension import start_worker  # noqa: E402
from crm_plugin.host import JobKind, Role  # noqa: E402
from tests.bot_helpers import World  # noqa: E402
from tests.conftest import make_test_app  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.worker_helpers import stop_process, worker_process  # noqa: E402

WARM_UP = 3  # first rounds not counted: the worker processes start, connect and import


def run(requests: int, database_url: str, mode: str = "thread", redis_url: str | None = None) -> list[float]:
    with FakeTelegram() as fake, tempfile.TemporaryDirectory() as logs:
        config = {"CRM_PLUGIN_REDIS_URL": redis_url} if redis_url else {}
        app = make_test_app(database_url, CRM_PLUGIN_TELEGRAM_API_URL=fake.url,
                            CRM_PLUGIN_WORKER="thread" if mode == "thread" else "external", **config)
        world = World(app, now=datetime.now(timezone.utc))
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench", credentials_encrypted=state.secrets.seal(
                {"token": fake.token}))
            session.add(bot)
        processes = []
        if mode == "thread":
            start_worker(app)
        else:
            processes = [worker_process(database_url, fake.url, Path(logs) / f"worker{n}.log", redis_url=redis_url)
                         for n in range(2)]
        latencies = []
        for n in range(requests + (0 if mode == "thread" else WARM_UP)):
            measurer = world.user(f"m{n}", Role.MEASURER)
            chat = str(700_000 + n)
            with state.db.session() as session:
                session.add(EmployeeLink(bot_id=bot.id, crm_user_id=measurer, platform_user_id=chat, chat_id=chat,
                                         status=LinkStatus.BOUND))
            job_id = world.job(JobKind.MEASUREMENT, datetime.now(timezone.utc) + timedelta(days=1), measurer)
            started = time.perf_counter()
            host.measurement_requested.send(app, job_id=job_id)
            while not fake.sent_messages(chat):
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"request {n}: no notification within 30 s")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
        if mode == "thread":
            state.worker.stop()
        for process in processes:
            stop_process(process)
        if mode != "thread":
            latencies = latencies[WARM_UP:]
        state.db.dispose()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", help="wake-ups (and the rate limiter) through this Redis")
    parser.add_argument("--mode", choices=["thread", "external", "both"],
                        help="the embedded worker thread, two worker processes, or both in turn (the default when "
                             "PostgreSQL or Redis carries wake-ups; else the thread only)")
    args = parser.parse_args()
    args.mode = args.mode or ("both" if args.database_url or args.redis_url else "thread")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake server's access log
    ok = True
    for mode in ("thread", "external") if args.mode == "both" else (args.mode,):
        with database(args.database_url) as url:  # a temporary SQLite file, or a throw-away PostgreSQL schema
            latencies = sorted(run(args.requests, url, mode, args.redis_url))
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        where = "embedded worker thread" if mode == "thread" else "2 worker processes"
        wakes = "Redis" if args.redis_url else "NOTIFY" if url.startswith("postgres") else "polling"
        print(f"notification latency over {len(latencies)} host events ({url.split(':')[0]}, {where}, "
              f"cross-process wake-ups: {wakes})")
        print(f"  p50 {statistics.median(latencies) * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   "
              f"max {latencies[-1] * 1000:.0f} ms")
        met = p95 < 0.1 if mode == "external" else latencies[-1] < 1
        ok &= met
        target = "p95 under 100 ms" if mode == "external" else "every notification within 1 s"
        print(f"  target ({target}): {'met' if met else 'MISSED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
