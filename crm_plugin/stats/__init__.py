"""Statistics: the CRM's own metrics (crm_plugin.host.MetricSpec) over a period, as text and a chart.

No Flask and no messenger SDK here: the bot, the admin and the scheduler build on it.

- ``periods``: Сегодня ... Год relative to "now" in the company's zone, the previous period, typed ranges.
- ``report``: one metric over a period against the previous one (total, change, breakdown top with shares,
  days regrouped by week or month), and «Сводка» of several metrics.
- ``formatting``, ``text``: numbers, dates and the messages in Russian and English.
- ``charts``: the plotly figures and the key that names a chart by what it shows.
- ``renderer``: figures to PNG through kaleido with a warm Chromium; None (and a log line) instead of an error.
- ``png``: reads a PNG's size and pixels; the blank-image check.
"""

from __future__ import annotations

from .charts import Chart, chart_for, chart_key
from .periods import Period, PeriodError, Preset, company_today, parse_period, preset_period
from .renderer import ChartRenderer, shared_renderer
from .report import MetricReport, Summary, build_report, build_summary, find_spec
from .text import period_error_text, report_text, summary_text

__all__ = [
    "Chart", "ChartRenderer", "MetricReport", "Period", "PeriodError", "Preset", "Summary", "build_report",
    "build_summary", "chart_for", "chart_key", "company_today", "find_spec", "parse_period", "period_error_text",
    "preset_period", "report_text", "shared_renderer", "summary_text",
]
