"""crm_plugin.stats.charts and renderer: real PNG charts from Debian's chromium through kaleido (one warm
renderer for the module), checked by decoding them; and the renderer's None, with a log line, when there is
no browser, or one that never starts."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crm_plugin.host import Breakdown
from crm_plugin.stats import ChartRenderer, Preset, build_report, chart_for, find_spec, png, preset_period
from crm_plugin.stats.charts import CURRENT, SCALE, WIDTH
from crm_plugin.stats.report import MetricReport
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def renderer() -> Iterator[ChartRenderer]:
    renderer = ChartRenderer()
    renderer.start()  # warm up while the reports are built
    yield renderer
    renderer.close()


@pytest.fixture(scope="module")
def reports() -> dict[str, MetricReport]:
    gateway = InMemoryGateway(clock=lambda: NOW)
    fill_stats(gateway, NOW)
    month = preset_period(Preset.LAST_MONTH, NOW, "Europe/Moscow")
    return {
        "series": build_report(gateway, find_spec(gateway, "revenue"), month),
        "breakdown": build_report(gateway, find_spec(gateway, "measurements_done"), month,
                                  breakdown=Breakdown.EMPLOYEE),
    }


def rgb(colour: str) -> bytes:
    return bytes.fromhex(colour.lstrip("#"))


@pytest.mark.parametrize("kind", ["series", "breakdown"])
def test_a_chart_is_a_real_png_that_is_not_blank(renderer: ChartRenderer, reports: dict[str, MetricReport],
                                                 kind: str) -> None:
    chart = chart_for(reports[kind], "ru")
    assert chart.kind == kind
    image = renderer.render(chart.figure, width=chart.width, height=chart.height)
    assert image is not None, "no image: see the log for why"
    assert 10_000 < len(image) < 1_000_000  # Viber's limit for a picture is 1 MB
    assert png.size(image) == (WIDTH * SCALE, chart.height * SCALE)
    top = png.decode(image, max_rows=240)  # the title and, on the series chart, its legend
    pixels = top.pixels()
    assert len(pixels) > 20, "the top of the chart is one flat colour"
    full = png.decode(image)
    assert len(full.rows) == chart.height * SCALE
    colours = {pixel[:3] for pixel in full.pixels()}
    assert rgb(CURRENT) in colours, "no bar in the period's colour"
    assert not png.looks_blank(image)


def test_the_same_report_draws_the_same_chart_key(reports: dict[str, MetricReport]) -> None:
    report = reports["series"]
    key = chart_for(report, "ru").key
    assert chart_for(replace(report), "ru").key == key and key.startswith("stats-series-revenue-")
    assert chart_for(report, "en").key != key
    assert chart_for(replace(report, employee_id=7), "ru").key != key  # another scope
    assert chart_for(replace(report, total=report.total + 1), "ru").key != key  # other figures
    assert chart_for(reports["breakdown"], "ru").key.startswith("stats-breakdown-measurements_done-")


def test_a_blank_image_is_caught() -> None:
    for pixel in (b"\xff\xff\xff", b"\xff\xff\xff\xff", b"\x25\x63\xeb\xff"):
        flat = png.encode(300, 200, pixel)
        assert png.looks_blank(flat) and png.size(flat) == (300, 200)
        assert png.decode(flat).pixels() == {pixel}


def test_no_browser_gives_no_chart_and_a_log_line(reports: dict[str, MetricReport], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    chart = chart_for(reports["series"], "ru")
    caplog.set_level(logging.WARNING, logger="crm_plugin.stats.renderer")
    missing = ChartRenderer(browser_path=str(tmp_path / "chromium"))
    assert missing.render(chart.figure, width=chart.width, height=chart.height) is None
    assert f"no Chromium at {tmp_path / 'chromium'}" in caplog.text
    caplog.clear()
    monkeypatch.setenv("PATH", str(tmp_path))  # Chromium hidden from PATH
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    hidden = ChartRenderer()
    assert hidden.render(chart.figure, width=chart.width, height=chart.height) is None
    assert "chart not drawn, the text goes alone: no Chromium on PATH" in caplog.text


def test_a_browser_that_never_starts_times_out(reports: dict[str, MetricReport], tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    hung = tmp_path / "chromium"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(hung.stat().st_mode | stat.S_IXUSR)
    chart = chart_for(reports["series"], "ru")
    caplog.set_level(logging.WARNING, logger="crm_plugin.stats.renderer")
    renderer = ChartRenderer(browser_path=str(hung), timeout=1.5)
    started = time.monotonic()
    assert renderer.render(chart.figure, width=chart.width, height=chart.height) is None
    assert time.monotonic() - started < 5
    assert "Chromium did not start within 2 s" in caplog.text
    assert renderer.render(chart.figure, width=chart.width, height=chart.height) is None  # not tried again at once
    renderer.close()
    assert not _running(str(hung)), "the hung browser's process was left running"


def _running(command: str) -> bool:
    for _ in range(30):
        alive = False
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    alive = alive or command.encode() in (entry / "cmdline").read_bytes()
                except OSError:
                    continue
        if not alive:
            return False
        time.sleep(0.1)
    return True


def test_the_renderer_finds_the_browser_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from crm_plugin.stats.renderer import find_browser

    fake = tmp_path / "chromium-browser"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    assert find_browser() == str(fake)
    monkeypatch.setenv("BROWSER_PATH", os.devnull)  # not an executable file
    assert find_browser() is None
    assert find_browser(str(fake)) == str(fake)
