"""How fast a statistics chart renders to PNG (kaleido 1.x with Debian's chromium).

    python bench/stats.py [--renders 30] [--cold 3] [--plain]

cold: a new renderer each time, the browser's start included (what the first chart of a worker costs).
warm: one renderer kept open, ``--renders`` charts (a month by day with the previous month beside it, and a
breakdown, taken in turn) after two renders to settle, timed two ways: one at a time, 0.3 s apart (a person's
tap: the latency of one chart), and back to back (a send to many: the renderer's throughput). The renderer
hands an image back before kaleido reloads its tab; ``--plain`` also times kaleido's own order (the reload
first) for comparison. Prints p50 and p95 in seconds.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="also time kaleido's own tab reload")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
