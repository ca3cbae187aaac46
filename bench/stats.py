"""How fast a statistics chart renders to PNG (kaleido 1.x with Debian's chromium), and how fast a tap in the
bot becomes a photo at the (fake) Telegram server.

    python bench/stats.py [--renders 30] [--cold 3] [--plain] [--taps 20] [--database-url URL]

cold: a new renderer each time, the browser's start included (what the first chart of a worker costs).
warm: one renderer kept open, ``--renders`` charts (a month by day with the previous month beside it, and a
breakdown, taken in turn) after two renders to settle, timed two ways: one at a time, 0.3 s apart (a person's
tap: the latency of one chart), and back to back (a send to many: the renderer's throughput). The renderer
hands an image back before kaleido reloads its tab; ``--plain`` also times kaleido's own order (the reload
first) for comparison. Prints p50 and p95 in seconds.

taps (``--taps``, 0 to skip; ``--taps-only`` skips the renders): the demo CRM with its seeded data, the plugin's
worker as a thread of the process (its clock warms the chart browser), a Telegram bot at the fake Bot API. Each
tap is an admin's «period» button (a callback_query POSTed to the webhook, another metric or period each time,
so every answer draws a new chart), timed until the fake records the sendPhoto; a new chat for each tap, so
Telegram's one message a second per chat does not count. Two taps to settle are not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_plugin.host import Breakdown  # noqa: E402
from crm_plugin.stats import ChartRenderer, Preset, build_report, chart_for, find_spec, preset_period  # noqa: E402
from crm_plugin.stats.charts import Chart  # noqa: E402
from crm_plugin.testing import InMemoryGateway  # noqa: E402
from crm_plugin.testing.stats import fill_stats  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def charts() -> list[Chart]:
    gateway = InMemoryGateway(clock=lambda: NOW)
    fill_stats(gateway, NOW)
    month = preset_period(Preset.LAST_MONTH, NOW, "Europe/Moscow")
    series = build_report(gateway, find_spec(gateway, "revenue"), month)
    split = build_report(gateway, find_spec(gateway, "leads"), month, breakdown=Breakdown.LEAD_SOURCE)
    return [chart_for(series, "ru"), chart_for(split, "ru")]


def render(renderer: ChartRenderer, chart: Chart) -> float:
    started = time.perf_counter()
    image = renderer.render(chart.figure, width=chart.width, height=chart.height)
    elapsed = time.perf_counter() - started
    if image is None:
        raise SystemExit("the render gave no image: is chromium installed?")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def warm(made: list[Chart], renders: int, *, defer_reload: bool, gap: float) -> list[float]:
    renderer = ChartRenderer(defer_reload=defer_reload)
    try:
        for chart in made:  # the first charts: browser start, first layouts
            render(renderer, chart)
        times = []
        for i in range(renders):
            time.sleep(gap)
            times.append(render(renderer, made[i % len(made)]))
        return times
    finally:
        renderer.close()


def report(name: str, times: list[float]) -> None:
    print(f"{name}, {len(times)} charts: p50 {percentile(times, 0.5):.3f} s, p95 {percentile(times, 0.95):.3f} s")


def taps(count: int, database_url: str | None) -> list[float]:
    import json
    import logging

    from bench.broadcast import database
    from crm_plugin import get_state
    from crm_plugin.bot.payloads import StatsPeriod
    from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Platform
    from crm_plugin.demo.seed import seed
    from crm_plugin.extension import start_worker
    from crm_plugin.stats import Preset
    from crm_plugin.stats.renderer import shared_renderer
    from tests.bot_helpers import World
    from tests.conftest import make_test_app
    from tests.fakes.telegram import FakeTelegram

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake server's access log
    secret = "bench-secret"
    with database(database_url) as url, FakeTelegram() as fake:
        app = make_test_app(url, CRM_PLUGIN_TELEGRAM_API_URL=fake.url, CRM_PLUGIN_WORKER="thread")
        seed(app)
        state = get_state(app)
        world = World(app)
        with state.db.session() as session:
            bot = Bot(platform=Platform.TELEGRAM, name="bench", webhook_secret=secret,
                      credentials_encrypted=state.secrets.seal({"token": fake.token}))
            session.add(bot)
            session.flush()
            bot_id = bot.id
        start_worker(app)
        shared_renderer().start()
        keys = [spec.key for spec in state.gateway.metrics()]
        presets = list(Preset)
        client = app.test_client()
        times = []
        for n in range(count + 2):
            admin = world.user(f"bench{n}", admin=True)
            chat = 800_000 + n
            with state.db.session() as session:
                session.add(EmployeeLink(bot_id=bot_id, crm_user_id=admin, platform_user_id=str(chat),
                                         chat_id=str(chat), status=LinkStatus.BOUND))
            payload = StatsPeriod(keys[n % len(keys)], presets[(n // len(keys)) % len(presets)]).pack()
            person = {"id": chat, "is_bot": False, "first_name": "Админ"}
            update = {"update_id": 10_000 + n, "callback_query": {
                "id": str(90_000 + n), "from": person, "chat_instance": "1", "data": payload,
                "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
                            "from": {"id": 1, "is_bot": True, "first_name": "CRM"}, "text": "…"}}}
            started = time.perf_counter()
            response = client.post(f"/crm-plugin/webhook/{bot_id}", data=json.dumps(update),
                                   headers={"Content-Type": "application/json",
                                            "X-Telegram-Bot-Api-Secret-Token": secret})
            assert response.status_code == 200, response.get_data(as_text=True)
            while not any(m.method == "sendPhoto" for m in fake.sent_messages(chat)):
                if time.perf_counter() - started > 30:
                    sent = [(m.method, m.text) for m in fake.sent_messages(chat)]
                    raise SystemExit(f"tap {n} ({payload}): no photo within 30 s; sent: {sent}")
                time.sleep(0.002)
            if n >= 2:
                times.append(time.perf_counter() - started)
        assert state.worker is not None
        state.worker.stop()
        state.db.dispose()
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="also time kaleido's own tab reload")
    parser.add_argument("--taps", type=int, default=20, help="bot taps timed to the photo (0: none)")
    parser.add_argument("--taps-only", action="store_true", help="time the taps only")
    parser.add_argument("--database-url", help="PostgreSQL for the taps (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.taps_only:
        report("bot answer from tap to the photo at the fake Telegram, warm", taps(args.taps, args.database_url))
        return
    made = charts()
    cold = []
    for _ in range(args.cold):
        renderer = ChartRenderer()
        cold.append(render(renderer, made[0]))
        renderer.close()
    print(f"cold render (browser start included), {args.cold} runs: p50 {statistics.median(cold):.3f} s, "
          f"max {max(cold):.3f} s")
    report("warm render, one at a time", warm(made, args.renders, defer_reload=True, gap=0.3))
    report("warm render, back to back", warm(made, args.renders, defer_reload=True, gap=0))
    if args.plain:
        report("warm render, one at a time, kaleido's reload first",
               warm(made, args.renders, defer_reload=False, gap=0.3))
    if args.taps:
        report("bot answer from tap to the photo at the fake Telegram, warm", taps(args.taps, args.database_url))


if __name__ == "__main__":
    main()
