"""Notification latency: from the CRM's host event to the message at the (fake) Telegram server.

    python bench/notification_latency.py              # 30 requests, temporary SQLite, embedded worker thread
    python bench/notification_latency.py --requests 50 --database-url postgresql://postgres@127.0.0.1:5432/test

The embedded default: the demo CRM with the plugin, the worker as a thread in the process. Each round creates
a measurement request assigned to a bound measurer (a new chat each time, so Telegram's 1 msg/s per chat does
not delay it), sends ``measurement_requested`` as the demo's UI does, and waits until the fake Telegram
server records the notification. Prints p50 / p95 / max. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
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


def run(requests: int, database_url: str) -> list[float]:
    with FakeTelegram() as fake:
        app = make_test_app(database_url, CRM_PLUGIN_TELEGRAM_API_URL=fake.url, CRM_PLUGIN_WORKER="thread")
        world = World(app, now=datetime.now(timezone.utc))
        state = get_state(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench", credentials_encrypted=state.secrets.seal(
                {"token": fake.token}))
            session.add(bot)
        start_worker(app)
        latencies = []
        for n in range(requests):
            measurer = world.user(f"m{n}", Role.MEASURER)
            chat = str(700_000 + n)
            with state.db.session() as session:
                session.add(EmployeeLink(bot_id=bot.id, crm_user_id=measurer, platform_user_id=chat, chat_id=chat,
                                         status=LinkStatus.BOUND))
            job_id = world.job(JobKind.MEASUREMENT, datetime.now(timezone.utc) + timedelta(days=1), measurer)
            started = time.perf_counter()
            host.measurement_requested.send(app, job_id=job_id)
            while not fake.sent_messages(chat):
                if time.perf_counter() - started > 10:
                    raise SystemExit(f"request {n}: no notification within 10 s")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
        state.worker.stop()
        state.db.dispose()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake server's access log
    with database(args.database_url) as url:  # a temporary SQLite file, or a throw-away PostgreSQL schema
        latencies = sorted(run(args.requests, url))
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"notification latency over {len(latencies)} host events ({url.split(':')[0]}, embedded worker thread)")
    print(f"  p50 {statistics.median(latencies) * 1000:.0f} ms   p95 {p95 * 1000:.0f} ms   "
          f"max {latencies[-1] * 1000:.0f} ms")
    print(f"  target (every notification within 1 s): {'met' if latencies[-1] < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
