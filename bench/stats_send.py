"""«Отправить сейчас» to 200 subscribers across three roles, through the real worker to the fake Telegram.

    python bench/stats_send.py [--subscribers 200] [--runs 3] [--metrics revenue,measurements_done]

The company's figures come from an InMemoryGateway filled by crm_plugin.testing.stats (managers get the
company's figures of every metric, measurers and installers their own rows of the metrics counted per
person). Each run: a pending send is stored, the worker's clock task fans it out (one report and chart per
distinct metric, scope and language), and the embedded worker renders each chart once (kaleido, warm
Chromium) and delivers every message at the fake Telegram, which enforces 30 messages a second per bot.

Printed per run and as min / median / max over the runs: renders (= distinct scopes), fan-out time (reports,
charts stored, messages queued), total time from the request to the last message at the fake, the achieved
rate as a share of the platform's 30 msg/s, and messages lost. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from bench.broadcast import database
from crm_plugin import get_state
from crm_plugin.bot.stats_sends import SendSpec, fan_out_pending, progress, request_send
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Platform, StatsChart
from crm_plugin.extension import make_worker
from crm_plugin.host import Role
from crm_plugin.stats.periods import Preset, preset_period
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats
from tests.fakes.telegram import FakeTelegram

log = logging.getLogger("bench.stats_send")
TOKEN = "778:bench-stats"
BOT_LIMIT = 30.0
NOW = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
ROLES = (Role.MANAGER, Role.MEASURER, Role.INSTALLER)


def company(subscribers: int) -> tuple[InMemoryGateway, list[int]]:
    gateway = InMemoryGateway(clock=lambda: NOW)
    world = fill_stats(gateway, NOW)
    pools = {Role.MANAGER: list(world.managers), Role.MEASURER: list(world.measurers),
             Role.INSTALLER: list(world.installers)}
    people: list[int] = []
    for index in range(subscribers):
        role = ROLES[index % 3]
        pool = pools[role]
        if index // 3 < len(pool):
            people.append(pool[index // 3])
        else:
            people.append(gateway.add_user(f"bench-{index}", f"Сотрудник {index}", roles={role}).id)
    return gateway, people


def one_run(subscribers: int, metrics: tuple[str, ...]) -> dict[str, float]:
    from crm_plugin.demo import create_app, init_db

    gateway, people = company(subscribers)
    with database(None) as url, FakeTelegram(token=TOKEN) as fake:
        app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "CRM_PLUGIN_WORKER": "external",
                          "CRM_PLUGIN_TELEGRAM_API_URL": fake.url})
        init_db(app)
        state = get_state(app)  # its gateway is the demo's: the send below reads the InMemoryGateway
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench", credentials_encrypted=state.secrets.seal(
                {"token": TOKEN}))
            session.add(bot)
            session.flush()
            for user_id in people:
                session.add(EmployeeLink(bot_id=bot.id, crm_user_id=user_id, platform_user_id=str(user_id),
                                         chat_id=str(user_id), status=LinkStatus.BOUND, subscribed_stats=True))
        worker = make_worker(app, clock_tasks=[]).start_thread()
        try:
            spec = SendSpec(metrics, preset_period(Preset.LAST_WEEK, NOW, "Europe/Moscow"))
            started = time.monotonic()
            with state.db.session() as session:
                run_id = request_send(session, spec, requested_by=None).id
            fan_out_pending(state.db, gateway, state.settings)  # what the clock task does
            fanned = time.monotonic() - started
            with state.db.session() as session:
                total = progress(session, run_id).total  # type: ignore[union-attr]
            deadline = time.monotonic() + total / BOT_LIMIT * 4 + 120
            while time.monotonic() < deadline:
                with state.db.session() as session:
                    now = progress(session, run_id)
                assert now is not None
                if now.finished:
                    break
                time.sleep(0.1)
            finished = time.monotonic() - started
            with state.db.session() as session:
                renders = session.scalar(select(func.count()).select_from(StatsChart)) or 0
                done = progress(session, run_id)
        finally:
            worker.stop()
            state.db.dispose()
        arrivals = sorted(call.at for method in ("sendPhoto", "sendMessage") for call in fake.calls(method))
        span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
        rate = (len(arrivals) - 1) / span if len(arrivals) > 1 else 0.0
        assert done is not None
        return {"messages": done.total, "sent": done.sent, "failed": done.failed, "lost": done.total - done.sent,
                "renders": renders, "fan_out": fanned, "total": finished,
                "rate_share": rate / BOT_LIMIT, "rate_429": fake.rate_limited}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--metrics", default="revenue,measurements_done")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    metrics = tuple(m for m in args.metrics.split(",") if m)
    results = []
    for number in range(1, args.runs + 1):
        figures = one_run(args.subscribers, metrics)
        results.append(figures)
        log.info("run %d: %d messages (%d sent, %d failed), %d renders, fan-out %.2f s, total %.2f s, "
                 "%.0f%% of %.0f msg/s, %d 429s", number, figures["messages"], figures["sent"], figures["failed"],
                 figures["renders"], figures["fan_out"], figures["total"], figures["rate_share"] * 100, BOT_LIMIT,
                 figures["rate_429"])
    log.info("statistics send to %d subscribers, metrics %s, %d runs (min / median / max):", args.subscribers,
             ",".join(metrics), args.runs)
    for key, unit in (("renders", ""), ("fan_out", " s"), ("total", " s"), ("rate_share", "")):
        values = [r[key] for r in results]
        scale = 100 if key == "rate_share" else 1
        suffix = " % of 30 msg/s" if key == "rate_share" else unit
        log.info("  %-10s %.2f / %.2f / %.2f%s", key, min(values) * scale, statistics.median(values) * scale,
                 max(values) * scale, suffix)
    lost = sum(r["lost"] for r in results)
    log.info("  lost       %d", lost)
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
