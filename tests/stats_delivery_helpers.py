"""Shared pieces of the chart delivery tests: real charts from the statistics of an in-memory company, one
warm renderer for the test run, a chart stored in a plugin's database, StatsReply rows queued."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from crm_plugin import PluginState
from crm_plugin.core.chat import Button, StatsReply
from crm_plugin.core.models import StatsChart
from crm_plugin.delivery.charts import store_chart
from crm_plugin.delivery.outbox import enqueue
from crm_plugin.host import Breakdown
from crm_plugin.stats import (
    ChartRenderer,
    Preset,
    build_report,
    chart_for,
    find_spec,
    png,
    preset_period,
    shared_renderer,
)
from crm_plugin.stats.charts import SCALE, Chart
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BUTTONS = ((Button.action("Другой период", "stats:period"), Button.action("Меню", "menu")),)


@cache
def sample_chart(metric: str = "revenue", breakdown: bool = False) -> Chart:
    gateway = InMemoryGateway(clock=lambda: NOW)
    fill_stats(gateway, NOW)
    month = preset_period(Preset.LAST_MONTH, NOW, "Europe/Moscow")
    report = build_report(gateway, find_spec(gateway, metric), month,
                          breakdown=Breakdown.EMPLOYEE if breakdown else None)
    return chart_for(report, "ru")


def run_renderer() -> ChartRenderer:
    """The process's real renderer (Debian's chromium), the one workers warm up: its browser starts once."""
    renderer = shared_renderer()
    renderer.start()
    return renderer


@cache
def sample_png(metric: str = "revenue") -> bytes:
    chart = sample_chart(metric)
    data = run_renderer().render(chart.figure, width=chart.width, height=chart.height, scale=SCALE)
    assert data is not None, run_renderer().last_failure()
    return data


def store(state: PluginState, chart: Chart, *, drawn: bytes | None = None) -> str:
    """Store ``chart``; ``drawn``: its PNG already in the row (the platform tests need no render)."""
    with state.db.session() as session:
        key = store_chart(session, chart)
        if drawn is not None:
            row = session.query(StatsChart).filter_by(key=key).one()
            row.png = drawn
    return key


def enqueue_stats(state: PluginState, bot_id: int, chats: list[str], text: str, chart_key: str | None) -> list[int]:
    with state.db.session() as session:
        rows = [enqueue(session, bot_id=bot_id, chat_id=chat, reply=StatsReply(text, chart_key, BUTTONS))
                for chat in chats]
        session.flush()
        return [row.id for row in rows]


def assert_real_chart(data: bytes | None, chart: Chart) -> None:
    """A PNG of the chart's size that is not one flat colour."""
    assert data is not None
    assert png.size(data) == (chart.width * SCALE, chart.height * SCALE)
    assert not png.looks_blank(data)
    image = png.decode(data, max_rows=chart.height)  # the upper half: the title, legend and bars
    assert len(image.pixels()) > 50
    assert len(data) < 1024 * 1024
