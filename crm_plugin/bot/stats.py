"""Statistics in the bot: «📊 Статистика» in the main menu -> a metric (or «Сводка») -> a period -> the answer,
a text and a chart in one StatsReply. Three taps from the main menu to a chart.

Who sees what is crm_plugin.stats.access's business (asked at every step, so a right taken away in the admin
holds at once, old buttons included): admins and managers get the company's figures, measurers and installers
«Мои показатели». Private chats only (pipeline.handle ignores groups; ``refuse_in_group`` answers the ones
asking for statistics there). The chat stays in STATS_STATE while the person is in the statistics, so a typed
range (``01.11–15.11``), a typed period name or metric title lands here.
"""

from __future__ import annotations

import logging

from ..core.chat import Button, ButtonPress, StatsReply, Text, TextReply
from ..core.i18n import N_, pick_language, translator, variants
from ..delivery.charts import store_chart
from ..host import Breakdown, MetricSpec, Role
from ..stats import access
from ..stats.charts import chart_for
from ..stats.periods import Period, PeriodError, Preset, parse_period, preset_period
from ..stats.report import build_report, build_summary
from ..stats.text import WORDS, breakdown_title, period_error_text, preset_name, report_text, summary_text
from . import labels
from . import menu as main_menu
from .context import Context
from .payloads import Menu, StatsDetail, StatsMenu, StatsMetric, StatsPeriod, StatsSubscription, button
from .payloads import payload_of as unpacked
from .router import Router, normalise_label
from .turn import Turn

log = logging.getLogger(__name__)

router = Router("stats")

STATS = N_("📊 Statistics")
SUMMARY_LABEL = N_("Summary")
MY_FIGURES = N_("My figures")
SUBSCRIPTION = N_("🔔 Subscription")
OTHER_PERIOD = N_("Other period")
DETAILS = N_("Details")

STATS_STATE = "stats"
SUMMARY = "_all"  # the «Сводка» in payloads and chat data (CRM metric keys do not start with "_")
BREAKDOWN_ORDER = (Breakdown.EMPLOYEE, Breakdown.MANAGER, Breakdown.LEAD_SOURCE)
PRESET_ROWS = ((Preset.TODAY, Preset.YESTERDAY), (Preset.THIS_WEEK, Preset.LAST_WEEK),
               (Preset.THIS_MONTH, Preset.LAST_MONTH), (Preset.QUARTER, Preset.YEAR))
PRESETS_BY_LABEL = {normalise_label(text): preset for preset in Preset for text in WORDS[preset.value]}
GROUP_COMMANDS = {"/stats", "/statistics"}


# --- who sees what ----------------------------------------------------------------------------------------

def viewer(ctx: Context) -> access.Viewer:
    employee = ctx.employee
    return access.Viewer(employee.id, employee.roles | ({Role.ADMIN} if employee.is_admin else frozenset()))


def visible(ctx: Context) -> list[MetricSpec]:
    """The metrics this person may see in the bot, read once per turn (the menu, then the step, may ask)."""
    who = viewer(ctx)
    key = ("stats.visible", who)
    if key not in ctx.memo:
        ctx.memo[key] = [spec for spec in access.visible_metrics(ctx.session, ctx.gateway.metrics(), who)
                         if _fits_a_button(spec.key)]
    return list(ctx.memo[key])


def _fits_a_button(key: str) -> bool:
    """A metric whose key a button can carry (ASCII letters, digits, ``_.-``; short enough for Telegram's
    64 bytes): any other is left out of the bot, with a warning, rather than breaking its menu."""
    try:
        StatsPeriod(key, Preset.LAST_MONTH).pack()
    except ValueError:
        log.warning("statistics: metric %r is left out of the bot: its key cannot travel in a button", key)
        return False
    return key != SUMMARY


def _spec(ctx: Context, key: str) -> MetricSpec | None:
    """The metric when this person may see it now (None: never was, taken away, or dropped by the CRM)."""
    return next((spec for spec in visible(ctx) if spec.key == key), None)


def menu_rows(ctx: Context) -> list[list[Button]]:
    """The main menu's row: only for people who may see some figure."""
    return [[button(ctx.t(STATS), StatsMenu())]] if visible(ctx) else []


main_menu.extra_rows.append(menu_rows)


# --- the steps --------------------------------------------------------------------------------------------

def show_stats_menu(ctx: Context, intro: str | None = None) -> None:
    t, specs = ctx.t, visible(ctx)
    if not specs:
        main_menu.show_menu(ctx, t("No statistics are available to you. Ask the administrator if that is "
                                   "a mistake."))
        return
    ctx.set_state(STATS_STATE)
    rows = [[button(spec.title(ctx.lang), StatsMetric(spec.key))] for spec in specs]
    rows.append([button(t(SUMMARY_LABEL), StatsMetric(SUMMARY))])
    rows.append([button(t(SUBSCRIPTION), StatsSubscription()), button(t(labels.MENU), Menu())])
    assert ctx.link is not None
    heading = (t("Company statistics: choose a figure.") if viewer(ctx).company
               else t("My figures: choose a figure."))
    state = (t("The statistics subscription is on.") if ctx.link.subscribed_stats
             else t("The statistics subscription is off."))
    text = f"{heading}\n{state}"
    ctx.say(f"{intro}\n\n{text}" if intro else text, rows)


def show_periods(ctx: Context, key: str) -> None:
    t = ctx.t
    title = (t(SUMMARY_LABEL) if visible(ctx) else None) if key == SUMMARY else _title(ctx, key)
    if title is None:
        show_stats_menu(ctx, t("This figure is not available to you."))
        return
    ctx.set_state(STATS_STATE, stats_key=key)
    rows = [[button(preset_name(p, ctx.lang), StatsPeriod(key, p)) for p in row] for row in PRESET_ROWS]
    rows.append([button(t(STATS), StatsMenu()), button(t(labels.MENU), Menu())])
    ctx.say(t("%(figure)s: choose a period or type the dates, for example 01.11–15.11.", figure=title), rows)


def _title(ctx: Context, key: str) -> str | None:
    spec = _spec(ctx, key)
    return spec.title(ctx.lang) if spec else None


def answer(ctx: Context, key: str, period: Period, breakdown: Breakdown | None = None) -> None:
    """The figure (or «Сводка») over ``period`` as one StatsReply: text, chart, and what to do next."""
    t, who = ctx.t, viewer(ctx)
    specs = visible(ctx)
    if not specs:
        show_stats_menu(ctx)
        return
    ctx.set_state(STATS_STATE, stats_key=key, stats_period=period.token())
    if key == SUMMARY:
        summary = build_summary(ctx.gateway, period, specs, employee_id=who.employee_id)
        rows = [[button(t(OTHER_PERIOD), StatsMetric(key))], [button(t(labels.MENU), Menu())]]
        ctx.reply(StatsReply(summary_text(summary, ctx.lang), None, _keyboard(rows)))
        return
    spec = next((s for s in specs if s.key == key), None)
    if spec is None or (breakdown is not None and not _may_detail(spec, who, breakdown)):
        show_stats_menu(ctx, t("This figure is not available to you."))
        return
    report = build_report(ctx.gateway, spec, period, breakdown=breakdown, employee_id=who.employee_id)
    chart = chart_for(report, ctx.lang)
    chart_key = store_chart(ctx.session, chart)
    details = [b for b in _breakdowns(spec, who) if b is not breakdown]
    first = [button(t(OTHER_PERIOD), StatsMetric(key))]
    for option in details:
        label = t(DETAILS) if len(details) == 1 else f"{t(DETAILS)}: {breakdown_title(option, ctx.lang)}"
        detail = _detail_button(label, key, period, option)
        if detail is not None:
            first.append(detail)
    rows = [first, [button(t(labels.MENU), Menu())]]
    ctx.reply(StatsReply(report_text(report, ctx.lang), chart_key, _keyboard(rows)))


def _breakdowns(spec: MetricSpec, who: access.Viewer) -> list[Breakdown]:
    """The splits a person may open: the company's only (their own figures have one row, theirs)."""
    return [b for b in BREAKDOWN_ORDER if b in spec.breakdowns] if who.company else []


def _may_detail(spec: MetricSpec, who: access.Viewer, breakdown: Breakdown) -> bool:
    return breakdown in _breakdowns(spec, who)


def _detail_button(label: str, key: str, period: Period, breakdown: Breakdown) -> Button | None:
    try:
        return button(label, StatsDetail(key, period.token(), breakdown))
    except ValueError:  # a CRM key too long for Telegram's 64 bytes: no detail button rather than no answer
        log.warning("statistics: no «Детализация» button for metric %r: its payload is too long", key)
        return None


def _keyboard(rows: list[list[Button]]) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(row) for row in rows if row)


# --- buttons ----------------------------------------------------------------------------------------------

@router.button(StatsMenu)
@router.text(STATS, MY_FIGURES, N_("Statistics"))
@router.command("stats", "statistics")
def on_stats(ctx: Context) -> None:
    show_stats_menu(ctx)


@router.button(StatsMetric)
def on_metric(ctx: Context) -> None:
    show_periods(ctx, ctx.payload(StatsMetric).key)


@router.button(StatsPeriod)
def on_period(ctx: Context) -> None:
    chosen = ctx.payload(StatsPeriod)
    answer(ctx, chosen.key, preset_period(chosen.preset, ctx.now, ctx.tz))


@router.button(StatsDetail)
def on_detail(ctx: Context) -> None:
    chosen = ctx.payload(StatsDetail)
    try:
        period = Period.from_token(chosen.period)
    except ValueError:
        main_menu.stale_button(ctx)
        return
    answer(ctx, chosen.key, period, chosen.breakdown)


@router.button(StatsSubscription)
@router.text(SUBSCRIPTION)
def on_subscription(ctx: Context) -> None:
    assert ctx.link is not None
    if not visible(ctx):
        show_stats_menu(ctx)
        return
    ctx.link.subscribed_stats = not ctx.link.subscribed_stats
    log.info("bot %s: CRM user %s switched the statistics subscription %s", ctx.turn.bot.id, ctx.employee.id,
             "on" if ctx.link.subscribed_stats else "off")
    t = ctx.t
    done = (t("Done: the statistics subscription is on. The statistics the administrator sends will come here.")
            if ctx.link.subscribed_stats
            else t("Done: the statistics subscription is off. Statistics sends will no longer come here."))
    show_stats_menu(ctx, done)


# --- typed words in the statistics --------------------------------------------------------------------------

def _other_labels() -> set[str]:
    """Labels other routes take typed (the menu, job lists...): never read as a period or a metric here."""
    found: set[str] = set()
    for name, value in vars(labels).items():
        if name.isupper() and isinstance(value, str):
            found |= {normalise_label(v) for v in variants(value)}
    for msgid in (STATS, MY_FIGURES, N_("Statistics"), SUBSCRIPTION):  # routes of their own, in any state
        found |= {normalise_label(v) for v in variants(msgid)}
    return found - set(PRESETS_BY_LABEL)


_OTHERS = _other_labels()


def _typed_here(ctx: Context) -> bool:
    return isinstance(ctx.event, Text) and normalise_label(ctx.event.text) not in _OTHERS


@router.on(Text, state=STATS_STATE, test=_typed_here)
def on_typed(ctx: Context) -> None:
    assert isinstance(ctx.event, Text)
    typed = ctx.event.text
    label = normalise_label(typed)
    if label in {normalise_label(v) for v in variants(SUMMARY_LABEL)}:
        show_periods(ctx, SUMMARY)
        return
    for spec in visible(ctx):
        if label in (normalise_label(spec.title_ru), normalise_label(spec.title_en)):
            show_periods(ctx, spec.key)
            return
    key = str(ctx.data.get("stats_key") or "")
    if not key:
        show_stats_menu(ctx, ctx.t("Choose a figure from the list."))
        return
    if label in {normalise_label(v) for v in variants(OTHER_PERIOD)}:
        show_periods(ctx, key)
        return
    if label in {normalise_label(v) for v in variants(DETAILS)} and key != SUMMARY:
        _typed_detail(ctx, key)
        return
    preset = PRESETS_BY_LABEL.get(label)
    if preset is not None:
        answer(ctx, key, preset_period(preset, ctx.now, ctx.tz))
        return
    try:
        period = parse_period(typed, ctx.today)
    except PeriodError as error:
        ctx.say(period_error_text(error, ctx.lang), [[button(ctx.t(STATS), StatsMenu()),
                                                      button(ctx.t(labels.MENU), Menu())]])
        return
    answer(ctx, key, period)


def _typed_detail(ctx: Context, key: str) -> None:
    spec = _spec(ctx, key)
    options = _breakdowns(spec, viewer(ctx)) if spec else []
    token = str(ctx.data.get("stats_period") or "")
    if not options or not token:
        show_periods(ctx, key)
        return
    answer(ctx, key, Period.from_token(token), options[0])


# --- group chats ------------------------------------------------------------------------------------------

_ASKS = {normalise_label(v) for msgid in (STATS, MY_FIGURES, N_("Statistics"), SUMMARY_LABEL)
         for v in variants(msgid)}


def asks_for_stats(turn: Turn) -> bool:
    event = turn.inbound.event
    if isinstance(event, ButtonPress):
        return isinstance(unpacked(event), (StatsMenu, StatsMetric, StatsPeriod, StatsDetail, StatsSubscription))
    if isinstance(event, Text):
        words = event.text.strip().split(" ")[0].split("@")[0].lower()
        return words in GROUP_COMMANDS or normalise_label(event.text) in _ASKS
    return False


def refuse_in_group(turn: Turn) -> bool:
    """In a group chat, a request for statistics gets a plain refusal (figures go to private chats only);
    True when it was one."""
    if not asks_for_stats(turn):
        return False
    link = turn.link
    t = translator(pick_language(link.language if link else None, turn.inbound.sender.language,
                                 turn.settings.language))
    turn.reply(TextReply(t("Statistics are shown only in a private chat with the bot. Write to the bot "
                           "directly.")))
    return True


__all__ = ["STATS_STATE", "SUMMARY", "answer", "asks_for_stats", "menu_rows", "refuse_in_group", "router",
           "show_stats_menu", "viewer", "visible"]
