"""«Статистика»: choose metrics and a period, see the company's figures as the bot sends them (the same text
and an interactive plotly chart), and «Отправить сейчас» to all subscribers, chosen roles or people, then
watch the send's progress (queued, sent, failed).

The preview is computed here (text and figure dicts only: no PNG on a request thread); the send itself is
only stored as a pending run, which the worker's clock fans out (crm_plugin.bot.stats_sends). plotly.js is
served from the installed plotly package: the figure and the script that draws it come from one version.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..bot.stats_sends import AUDIENCES, SendSpec, default_breakdown, progress, request_send
from ..core.models import StatsRun
from ..host import MetricSpec, Role
from ..stats.charts import PLOTLY_CONFIG, chart_for
from ..stats.periods import MAX_DAYS, Period, Preset, preset_period
from ..stats.report import build_report
from ..stats.text import preset_name, report_text
from ..web.current import get_state
from .args import parse_id
from .base import PluginBaseView, csrf_ok
from .filters import company_tz, in_range
from .i18n import language, lazy_t, t
from .labels import ROLE_LABELS

RECENT_RUNS = 15
RANGE = "range"  # the period select's «Свои даты»
AUDIENCE_LABELS = {"subscribers": lazy_t("Всем подписчикам"), "roles": lazy_t("Ролям"),
                   "people": lazy_t("Сотрудникам")}
RUN_STATUS_LABELS = {"pending": lazy_t("ждёт отправки"), "sent": lazy_t("отправлена"),
                     "skipped": lazy_t("пропущена"), "failed": lazy_t("ошибка")}


class Choice:
    """What the form asked for, read from a query string or a posted form; ``problems`` in the admin's words."""

    def __init__(self, values: Any, specs: list[MetricSpec], now: datetime) -> None:
        self.problems: list[str] = []
        known = {spec.key for spec in specs}
        picked = [key for key in values.getlist("metrics") if key in known]
        self.metrics = tuple(picked) if picked or "metrics" in values else tuple(s.key for s in specs[:1])
        self.preset = values.get("period") or Preset.YESTERDAY.value
        self.start_text, self.end_text = values.get("start", ""), values.get("end", "")
        self.period = self._period(now)
        self.audience = values.get("audience") if values.get("audience") in AUDIENCES else "subscribers"
        self.roles = frozenset(Role(r) for r in values.getlist("roles") if r in {x.value for x in Role})
        self.people = frozenset(int(p) for p in values.getlist("people")
                                if p.isascii() and p.isdigit() and len(p) < 19)
        if not self.metrics:
            self.problems.append(t("Выберите хотя бы один показатель"))

    def _period(self, now: datetime) -> Period:
        tz = company_tz()
        if self.preset != RANGE:
            try:
                return preset_period(Preset(self.preset), now, tz)
            except ValueError:
                self.preset = Preset.YESTERDAY.value
                return preset_period(Preset.YESTERDAY, now, tz)
        fallback = preset_period(Preset.YESTERDAY, now, tz)
        try:
            start, end = date.fromisoformat(self.start_text), date.fromisoformat(self.end_text)
        except ValueError:
            self.problems.append(t("Даты в виде ГГГГ-ММ-ДД"))
            return fallback
        if not in_range(start, end) or end < start:
            self.problems.append(t("Конец периода раньше начала или даты вне допустимых"))
            return fallback
        if (end - start).days + 1 > MAX_DAYS:
            self.problems.append(t("Период длиннее трёх лет: выберите покороче"))
            return fallback
        return Period(start, end)

    def send_problems(self) -> list[str]:
        problems = list(self.problems)
        if self.audience == "roles" and not self.roles:
            problems.append(t("Выберите хотя бы одну роль"))
        if self.audience == "people" and not self.people:
            problems.append(t("Выберите хотя бы одного сотрудника"))
        return problems

    def spec(self) -> SendSpec:
        return SendSpec(self.metrics, self.period, self.audience, self.roles, self.people)


class StatsView(PluginBaseView):
    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        state = get_state()
        specs = state.gateway.metrics()
        now = datetime.now(UTC)
        choice = Choice(request.form if request.method == "POST" else request.args, specs, now)
        if request.method == "POST":
            problems = choice.send_problems()
            if not csrf_ok():
                problems.insert(0, t("Форма устарела: обновите страницу"))
            if not problems:
                user = state.gateway.current_user()
                with state.db.session() as session:
                    run_id = request_send(session, choice.spec(), user.id if user else None).id
                flash(t("Рассылка поставлена в очередь"), "success")
                return redirect(url_for(".run_view", run_id=run_id))
            for problem in problems:
                flash(problem, "error")
        previews = [] if choice.problems else self._previews(specs, choice)
        with state.db.session() as session:
            runs = session.scalars(select(StatsRun).order_by(StatsRun.id.desc()).limit(RECENT_RUNS)).all()
            session.expunge_all()
        periods = [(p.value, preset_name(p, language())) for p in Preset] + [(RANGE, t("Свои даты"))]
        return self.render(
            "crm_plugin/admin/stats.html", specs=specs, choice=choice, lang=language(), previews=previews,
            periods=periods,
            audiences=AUDIENCE_LABELS, roles=[(r.value, ROLE_LABELS[r]) for r in Role],
            users=state.gateway.list_users(), runs=runs, run_labels=RUN_STATUS_LABELS, note_text=note_text,
            figures=Markup(_json_for_script([p["figure"] for p in previews])),
            plotly_config=Markup(_json_for_script(PLOTLY_CONFIG)))

    def _previews(self, specs: list[MetricSpec], choice: Choice) -> list[dict[str, Any]]:
        """The company's figures of each chosen metric, as a manager gets them."""
        gateway, lang = get_state().gateway, language()
        previews = []
        for spec in (s for s in specs if s.key in choice.metrics):
            report = build_report(gateway, spec, choice.period, breakdown=default_breakdown(spec, None))
            chart = chart_for(report, lang)
            previews.append({"key": spec.key, "text": report_text(report, lang), "figure": chart.figure,
                             "width": chart.width, "height": chart.height})
        return previews

    @expose("/run/<int:run_id>/")
    def run_view(self, run_id: int) -> Any:
        if parse_id(run_id, StatsRun.id) is None:  # 2**70 in the URL: no such run, not a database error
            abort(404)
        with get_state().db.session() as session:
            run = session.get(StatsRun, run_id)
            if run is None:
                abort(404)
            session.expunge(run)
        return self.render("crm_plugin/admin/stats_run.html", run=run, run_labels=RUN_STATUS_LABELS,
                           audiences=AUDIENCE_LABELS,
                           progress_url=url_for(".progress_view", run_id=run_id))

    @expose("/run/<int:run_id>/progress")
    def progress_view(self, run_id: int) -> Response:
        if parse_id(run_id, StatsRun.id) is None:
            abort(404)
        with get_state().db.session() as session:
            found = progress(session, run_id)
        if found is None:
            abort(404)
        return jsonify({**found.as_dict(), "note_text": note_text(found.note)})

    @expose("/plotly.min.js")
    def plotly_js(self) -> Response:
        """plotly.js from the installed plotly package (no CDN), cached by the browser for a day."""
        path = resources.files("plotly") / "package_data" / "plotly.min.js"
        with resources.as_file(path) as file:
            return send_file(file, mimetype="text/javascript", max_age=86400)


def note_text(note: str | None) -> str:
    """A run's note (stored in English, as the log says it) in the admin's words."""
    if not note:
        return ""
    if note == "every figure is zero":
        return t("все показатели за период равны нулю: не отправлено")
    if note == "nobody to send to":
        return t("некому отправить: нет подходящих получателей")
    missed = re.match(r"missed by (\d+) min", note)
    if missed:
        return t("воркер не работал: опоздание %(minutes)s мин, больше часа — не отправлено", minutes=missed[1])
    return note


def _json_for_script(value: Any) -> str:
    """JSON safe inside a <script> element: no "</script>" or "<!--" can end it early."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
