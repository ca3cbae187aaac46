"""The charts of a statistics answer, as plotly figures (plain figure dicts: plotly.js draws them, kaleido
renders them to PNG through renderer.py, the admin's preview can show them as they are).

Two kinds: the period by day, week or month with the previous period's bars beside it, or a breakdown as
horizontal bars with each row's share. Made for a phone: 720 CSS pixels wide drawn at scale 2, an 18-pixel
font (DejaVu Sans, which Debian's chromium has), axis labels in the reader's language with Russian month
names, no plotly logo or toolbar (a static image has none; ``PLOTLY_CONFIG`` keeps them off an interactive
one too).

``chart_key`` names a chart by what it shows: the same metric, periods, scope, language and figures give
the same key, so a send to many people renders each distinct chart once.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from dataclasses import dataclass
from typing import Any

from ..host import Unit
from . import formatting as fmt
from .report import Bucket, Grouping, MetricReport
from .text import breakdown_title, period_label, row_label, word

WIDTH = 720
HEIGHT = 520
SCALE = 2
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
FONT_SIZE = 18
CURRENT = "#2563eb"
PREVIOUS = "#c3cad4"
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
MAX_TICKS = 8
LABEL_CHARS = 26
STYLE_VERSION = 1  # change it when the look changes: keys of charts drawn before stop matching
PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": False, "responsive": True}


@dataclass(frozen=True)
class Chart:
    kind: str  # "series" or "breakdown"
    figure: dict[str, Any]
    width: int
    height: int
    key: str


def chart_for(report: MetricReport, lang: str) -> Chart:
    """The report's chart: its breakdown when it has rows, else the period's bars."""
    if report.breakdown is not None and report.rows:
        figure, height, kind = breakdown_figure(report, lang), breakdown_height(report), "breakdown"
    else:
        figure, height, kind = series_figure(report, lang), HEIGHT, "series"
    return Chart(kind, figure, WIDTH, height, chart_key(report, lang, kind))


def chart_key(report: MetricReport, lang: str, kind: str) -> str:
    """``stats-<kind>-<metric>-<digest>``: equal for the same metric, periods, scope, language and figures."""
    shown = {
        "style": STYLE_VERSION, "kind": kind, "metric": report.spec.key, "unit": report.spec.unit.value,
        "title": report.spec.title(lang), "period": report.period.token(),
        "previous": report.previous_period.token(), "grouping": report.grouping.value,
        "breakdown": report.breakdown.value if report.breakdown else None, "employee": report.employee_id,
        "lang": lang, "total": [report.total, report.previous_total],
        "buckets": [[b.start.isoformat(), b.value] for b in report.buckets],
        "previous_buckets": [b.value for b in report.previous_buckets],
        "rows": [[r.label, r.value, r.rest] for r in report.rows] if kind == "breakdown" else [],
    }
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]
    return f"stats-{kind}-{report.spec.key}-{digest}"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)  # plotly reads labels as a little HTML


def _title(report: MetricReport, lang: str, extra: str = "") -> dict[str, Any]:
    title = report.spec.title(lang)
    if report.employee_id is not None:
        title = f"{word('mine', lang)}: {title}"
    summary = (f"{period_label(report.period, lang)} · {word('total', lang).lower()} "
               f"{fmt.amount(report.total, report.spec.unit, lang)}")
    if report.spec.unit is Unit.PERCENT:
        summary += f" ({fmt.signed(report.change.absolute, Unit.PERCENT, lang)})"
    elif report.change.percent is not None:
        summary += f" ({fmt.percent(report.change.percent, lang, sign=True)})"
    return {"text": f"<b>{_escape(title)}</b>{_escape(extra)}", "font": {"size": 23, "color": INK},
            "subtitle": {"text": _escape(summary), "font": {"size": 16, "color": MUTED}},
            "x": 0.02, "xanchor": "left", "xref": "container", "y": 1, "yanchor": "top", "yref": "container",
            "pad": {"t": 18}}


def _layout(report: MetricReport, lang: str, height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "width": WIDTH, "height": height, "font": {"family": FONT, "size": FONT_SIZE, "color": INK},
        "paper_bgcolor": "white", "plot_bgcolor": "white", "separators": ".," if lang == "en" else
        f",{fmt.NNBSP}", "margin": {"l": 16, "r": 24, "t": extra.pop("top", 92), "b": 24}, "hovermode": False,
        "title": _title(report, lang, extra.pop("title_extra", "")),
    }
    layout.update(extra)
    return layout


def nice_ticks(top: float, unit: Unit, count: int = 4) -> list[float]:
    """0 and a few round steps (1, 2, 2.5 or 5 times a power of ten) reaching ``top``."""
    if top <= 0:
        top = 1.0
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if unit is not Unit.PERCENT and step < 1:
        step = 1.0  # pieces and roubles are whole
    return [step * i for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def bucket_label(bucket: Bucket, grouping: Grouping, lang: str, with_year: bool) -> str:
    """A bar's axis label: its day (``1 ноя``), its week's first day, or its month (``ноя``, ``янв 2027``)."""
    if grouping is not Grouping.MONTH:
        return fmt.short_day(bucket.start, lang)
    return fmt.short_month(bucket.start, lang, year=with_year)


def series_figure(report: MetricReport, lang: str) -> dict[str, Any]:
    """The period's bars (day, week or month) with the previous period's beside them."""
    unit = report.spec.unit
    now, before = report.buckets, report.previous_buckets
    with_year = report.period.start.year != report.period.end.year
    labels = [bucket_label(b, report.grouping, lang, with_year) for b in now]
    every = max(1, math.ceil(len(labels) / MAX_TICKS))
    shown = list(range(0, len(labels), every))
    ticks = nice_ticks(max([b.value for b in (*now, *before)] + [0]), unit)
    few = len(now) <= 8  # few bars: each gets its figure

    def bars(buckets: tuple[Bucket, ...], name: str, colour: str, labelled: bool) -> dict[str, Any]:
        trace: dict[str, Any] = {"type": "bar", "x": list(range(len(buckets))), "y": [b.value for b in buckets],
                                 "name": _escape(name), "marker": {"color": colour}, "cliponaxis": False}
        if labelled:
            trace.update(text=[fmt.compact(b.value, Unit.PIECES, lang) if b.value else "" for b in buckets],
                         textposition="outside", constraintext="none", textfont={"size": 15, "color": INK})
        return trace

    previous = fmt.date_range(report.previous_period.start, report.previous_period.end, lang)
    current = fmt.date_range(report.period.start, report.period.end, lang)
    data = [bars(before, f"{previous} ({word('previous', lang)})", PREVIOUS, False),
            bars(now, current, CURRENT, few)]
    return {"data": data, "layout": _layout(
        report, lang, HEIGHT, top=128, barmode="group", bargap=0.28, bargroupgap=0.06, showlegend=True,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
                "font": {"size": 15}, "traceorder": "reversed"},
        xaxis={"tickmode": "array", "tickvals": shown, "ticktext": [_escape(labels[i]) for i in shown],
               "range": [-0.6, max(len(now), len(before), 1) - 0.4], "showgrid": False, "ticks": "",
               "tickangle": 0, "tickfont": {"size": 15, "color": MUTED}, "linecolor": GRID, "automargin": True,
               "fixedrange": True},
        yaxis={"tickmode": "array", "tickvals": ticks, "ticktext": [fmt.compact(t, unit, lang) for t in ticks],
               "range": [0, ticks[-1] * (1.12 if few else 1.02)], "gridcolor": GRID, "zeroline": True,
               "zerolinecolor": GRID, "tickfont": {"size": 15, "color": MUTED}, "automargin": True,
               "fixedrange": True},
    )}


def breakdown_height(report: MetricReport) -> int:
    return 150 + 58 * max(len(report.rows), 1)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def breakdown_figure(report: MetricReport, lang: str) -> dict[str, Any]:
    """The breakdown's top as horizontal bars, the largest on top, each with its figure and share."""
    unit = report.spec.unit
    rows = list(reversed(report.rows))  # plotly draws the first category at the bottom
    top = max([r.value for r in rows] + [0]) or 1.0
    texts = []
    for row in rows:
        text = fmt.amount(row.value, unit, lang)
        texts.append(text + (f" · {fmt.percent(row.share * 100, lang)}" if row.share is not None else ""))
    trace = {"type": "bar", "orientation": "h", "x": [r.value for r in rows],
             "y": [_escape(_short(row_label(r, lang))) for r in rows], "text": texts, "textposition": "outside",
             "textfont": {"size": 16, "color": INK}, "cliponaxis": False,
             "marker": {"color": [PREVIOUS if r.rest else CURRENT for r in rows]}}
    assert report.breakdown is not None
    extra = f" · {breakdown_title(report.breakdown, lang).lower()}"
    return {"data": [trace], "layout": _layout(
        report, lang, breakdown_height(report), showlegend=False, bargap=0.32, title_extra=extra,
        xaxis={"visible": False, "range": [0, top * 1.45], "fixedrange": True},
        yaxis={"automargin": True, "ticks": "", "ticklabelstandoff": 10, "tickfont": {"size": 16},
               "fixedrange": True},
    )}
