"""crm_plugin.stats.report, text and formatting: the figures of an answer against the in-memory gateway (exact
numbers) and the demo CRM's (on SQLite and PostgreSQL), and the words and numbers of its message."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from crm_plugin import PluginState
from crm_plugin.host import Aggregation, Breakdown, MetricPoint, Role
from crm_plugin.stats import formatting as fmt
from crm_plugin.stats.periods import Period, Preset, preset_period
from crm_plugin.stats.report import Grouping, build_report, build_summary, find_spec, grouping_for, regroup
from crm_plugin.stats.text import report_text, summary_text
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats

UTC = timezone.utc
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)  # 15:00 on Sunday 15 November in Moscow
N, S = fmt.NNBSP, fmt.NBSP  # the narrow space between digit groups, the no-break space before ₽ and %


@pytest.fixture
def company() -> tuple[InMemoryGateway, dict[str, int]]:
    gateway = InMemoryGateway(clock=lambda: NOW)
    people = {login: gateway.add_user(login, name, roles=roles).id for login, name, roles in [
        ("gareeva", "Гареева Алсу", {Role.MANAGER}), ("smirnov", "Смирнов Дмитрий", {Role.MANAGER}),
        ("kuzmina", "Кузьмина Елена", {Role.MANAGER}), ("volkov", "Волков Сергей", {Role.MEASURER})]}
    client = gateway.add_client("Иванов Пётр")
    for at, amount, manager, cancelled in [
        (datetime(2026, 11, 2, 10, 0, tzinfo=UTC), 100_000, "gareeva", False),
        (datetime(2026, 11, 2, 22, 30, tzinfo=UTC), 40_000, "smirnov", False),  # 01:30 on 3 November
        (datetime(2026, 11, 5, 9, 0, tzinfo=UTC), 60_000, "gareeva", False),
        (datetime(2026, 11, 7, 9, 0, tzinfo=UTC), 7_000, "kuzmina", True),
        (datetime(2026, 10, 10, 9, 0, tzinfo=UTC), 50_000, "gareeva", False),  # the previous period
        (datetime(2026, 10, 20, 9, 0, tzinfo=UTC), 999_999, "smirnov", False),  # neither period
    ]:
        gateway.add_order(client.id, amount=amount, created_at=at, cancelled=cancelled, manager_id=people[manager])
    return gateway, people


def this_month() -> Period:
    return preset_period(Preset.THIS_MONTH, NOW, "Europe/Moscow")


def test_a_metric_report_against_the_previous_period(company: tuple[InMemoryGateway, dict[str, int]]) -> None:
    gateway, people = company
    report = build_report(gateway, find_spec(gateway, "revenue"), this_month(), breakdown=Breakdown.MANAGER)
    assert (report.period.start, report.period.end) == (date(2026, 11, 1), date(2026, 11, 15))
    assert (report.previous_period.start, report.previous_period.end) == (date(2026, 10, 1), date(2026, 10, 15))
    assert (report.total, report.previous_total) == (200_000, 50_000)
    assert (report.change.absolute, report.change.percent) == (150_000, 300)
    assert report.grouping is Grouping.DAY and len(report.buckets) == 15 and len(report.previous_buckets) == 15
    assert {b.start: b.value for b in report.buckets if b.value} == {
        date(2026, 11, 2): 100_000, date(2026, 11, 3): 40_000, date(2026, 11, 5): 60_000}
    assert [(r.label, r.value, r.employee_id, r.share) for r in report.rows] == [
        ("Гареева Алсу", 160_000, people["gareeva"], 0.8), ("Смирнов Дмитрий", 40_000, people["smirnov"], 0.2)]
    assert not report.empty


def test_the_message_of_a_report(company: tuple[InMemoryGateway, dict[str, int]]) -> None:
    gateway, _ = company
    report = build_report(gateway, find_spec(gateway, "revenue"), this_month(), breakdown=Breakdown.MANAGER)
    assert report_text(report, "ru") == "\n".join([
        "📊 Выручка", "Этот месяц: 01.11–15.11.2026", "",
        f"Итого: 200{N}000{S}₽", f"Прошлый период (01.10–15.10.2026): 50{N}000{S}₽",
        f"Изменение: +150{N}000{S}₽ (+300{S}%)", "",
        "По менеджерам:", f"1. Гареева Алсу — 160{N}000{S}₽ (80{S}%)", f"2. Смирнов Дмитрий — 40{N}000{S}₽ (20{S}%)"])
    assert report_text(report, "en") == "\n".join([
        "📊 Revenue", "This month: Nov 1–15, 2026", "",
        "Total: ₽200,000", "Previous period (Oct 1–15, 2026): ₽50,000", "Change: +₽150,000 (+300%)", "",
        "By manager:", "1. Гареева Алсу — ₽160,000 (80%)", "2. Смирнов Дмитрий — ₽40,000 (20%)"])


def test_averages_and_percentages_are_not_sums_of_days(company: tuple[InMemoryGateway, dict[str, int]]) -> None:
    gateway, _ = company
    average = build_report(gateway, find_spec(gateway, "average_order"), this_month(), breakdown=Breakdown.MANAGER)
    assert average.total == pytest.approx(200_000 / 3) and average.previous_total == 50_000
    assert [(r.label, r.value, r.share) for r in average.rows] == [
        ("Гареева Алсу", 80_000, None), ("Смирнов Дмитрий", 40_000, None)]  # an average has no share
    rate = build_report(gateway, find_spec(gateway, "cancel_rate"), this_month())
    assert (rate.total, rate.previous_total, rate.change.absolute) == (25, 0, 25)
    text = report_text(rate, "ru")
    assert f"Итого: 25{S}%" in text and f"Изменение: +25{S}п.{S}п." in text  # percentage points, no % of a %
    summary = build_summary(gateway, this_month())
    lines = summary_text(summary, "ru").splitlines()
    assert f"Средний чек: 66{N}667{S}₽ (+16{N}667{S}₽; +33,3{S}%)" in lines
    assert f"Новые заказы: 4 (+3; +300{S}%)" in lines
    assert f"Доля отказов: 25{S}% (+25{S}п.{S}п.)" in lines
    assert "Выполненные монтажи: 0 (—)" in lines  # nothing either time
    assert lines[:4] == ["📊 Сводка", "Этот месяц: 01.11–15.11.2026", "(сравнение с 01.10–15.10.2026)", ""]


def test_a_summary_matches_its_reports_and_keeps_to_one_employee() -> None:
    gateway = InMemoryGateway(clock=lambda: NOW)
    world = fill_stats(gateway, NOW)
    period = preset_period(Preset.LAST_MONTH, NOW, "Europe/Moscow")
    summary = build_summary(gateway, period)
    assert [line.spec.key for line in summary.lines] == [spec.key for spec in gateway.metrics()]
    for line in summary.lines:
        report = build_report(gateway, line.spec, period)
        assert (line.total, line.previous_total) == pytest.approx((report.total, report.previous_total))
    measurer = world.measurers[0]
    mine = build_summary(gateway, period, employee_id=measurer)
    assert "leads" not in {line.spec.key for line in mine.lines}  # the company's alone
    own = {line.spec.key: line.total for line in mine.lines}
    split = build_report(gateway, find_spec(gateway, "measurements_done"), period, breakdown=Breakdown.EMPLOYEE)
    assert own["measurements_done"] == next(r.value for r in split.rows if r.employee_id == measurer) > 0
    assert own["revenue"] == 0  # a measurer manages no orders: no company revenue
    assert summary_text(mine, "ru").startswith("📊 Мои показатели\nПрошлый месяц: 01.10–31.10.2026")


def test_a_long_breakdown_ends_with_the_others() -> None:
    gateway = InMemoryGateway(clock=lambda: NOW)
    fill_stats(gateway, NOW)
    period = preset_period(Preset.QUARTER, NOW, "Europe/Moscow")
    report = build_report(gateway, find_spec(gateway, "leads"), period, breakdown=Breakdown.LEAD_SOURCE, top=3)
    assert len(report.rows) == 4 and report.rows[-1].rest == 4  # seven sources: three and «Остальные (4)»
    assert sum(r.value for r in report.rows) == report.total
    assert sum(r.share or 0 for r in report.rows) == pytest.approx(1)
    assert "Остальные (4) — " in report_text(report, "ru") and "Others (4) — " in report_text(report, "en")


def test_long_periods_are_drawn_by_week_and_month() -> None:
    assert grouping_for(Period(date(2026, 1, 1), date(2026, 1, 31))) is Grouping.DAY
    assert grouping_for(Period(date(2026, 1, 1), date(2026, 2, 1))) is Grouping.WEEK
    assert grouping_for(Period(date(2026, 10, 1), date(2026, 12, 31))) is Grouping.WEEK  # a quarter: 92 days
    assert grouping_for(Period(date(2026, 1, 1), date(2026, 11, 15))) is Grouping.MONTH
    days = [MetricPoint(date(2026, 11, 1) + timedelta(days=i), float(i), weight=float(i % 3)) for i in range(16)]
    weeks = regroup(days, Grouping.WEEK, Aggregation.SUM)  # 1 November 2026 is a Sunday
    assert [(b.start, b.end, b.value) for b in weeks] == [
        (date(2026, 11, 1), date(2026, 11, 1), 0), (date(2026, 11, 2), date(2026, 11, 8), 28),
        (date(2026, 11, 9), date(2026, 11, 15), 77), (date(2026, 11, 16), date(2026, 11, 16), 15)]
    means = regroup(days, Grouping.WEEK, Aggregation.MEAN)  # each week's weighted mean, weights summed
    week = days[1:8]
    assert means[1].value == pytest.approx(sum(p.value * p.weight for p in week) / sum(p.weight for p in week))
    assert means[1].weight == sum(p.weight for p in week)
    months = regroup([MetricPoint(date(2026, 1, 30) + timedelta(days=i), 1.0) for i in range(40)], Grouping.MONTH,
                     Aggregation.SUM)
    assert [(b.start.month, b.value) for b in months] == [(1, 2), (2, 28), (3, 10)]


def test_the_year_report_regroups_the_gateways_days() -> None:
    gateway = InMemoryGateway(clock=lambda: NOW)
    fill_stats(gateway, NOW, days=300, orders=400)
    year = preset_period(Preset.YEAR, NOW, "Europe/Moscow")
    for key in ("revenue", "average_order"):
        report = build_report(gateway, find_spec(gateway, key), year)
        assert report.grouping is Grouping.MONTH and [b.start.month for b in report.buckets] == list(range(1, 12))
        assert report.buckets[-1].end == date(2026, 11, 15)
        november = gateway.metric_values(key, date(2026, 11, 1), date(2026, 11, 15))
        assert report.buckets[-1].value == pytest.approx(november.total)  # a month's average, not a sum


def test_numbers_the_russian_way() -> None:
    from crm_plugin.host import Unit

    assert fmt.amount(1_234_567, Unit.ROUBLES, "ru") == f"1{N}234{N}567{S}₽"
    assert fmt.amount(1234, Unit.ROUBLES, "ru") == f"1234{S}₽"  # four digits stay together
    assert fmt.amount(12_345.6, Unit.ROUBLES, "ru") == f"12{N}346{S}₽"
    assert fmt.amount(12.5, Unit.PERCENT, "ru") == f"12,5{S}%" and fmt.amount(12, Unit.PERCENT, "ru") == f"12{S}%"
    assert fmt.amount(42, Unit.PIECES, "ru") == "42" and fmt.amount(2.25, Unit.PIECES, "ru") == "2,2"
    assert fmt.signed(-3400, Unit.ROUBLES, "ru") == f"−3400{S}₽" and fmt.signed(0, Unit.PIECES, "ru") == "0"
    assert fmt.percent(-0.04, "ru", sign=True) == f"0{S}%" and fmt.percent(None, "ru") == "—"
    assert fmt.amount(1_234_567, Unit.ROUBLES, "en") == "₽1,234,567" and fmt.signed(-5, Unit.PIECES, "en") == "-5"
    assert fmt.compact(1_250_000, Unit.ROUBLES, "ru") == f"1,2{S}млн{S}₽"
    assert fmt.compact(250_000, Unit.PIECES, "ru") == f"250{S}тыс."
    assert fmt.compact(250_000, Unit.ROUBLES, "en") == "₽250K"
    assert fmt.date_range(date(2026, 11, 1), date(2026, 11, 15), "ru") == "01.11–15.11.2026"
    assert fmt.date_range(date(2025, 12, 25), date(2026, 1, 10), "ru") == "25.12.2025–10.01.2026"
    assert fmt.date_range(date(2026, 11, 1), date(2026, 11, 1), "ru") == "01.11.2026"
    assert fmt.date_range(date(2026, 10, 20), date(2026, 11, 3), "en") == "Oct 20 – Nov 3, 2026"
    assert fmt.short_day(date(2026, 5, 1), "ru") == f"1{S}мая" and fmt.short_month(date(2026, 5, 1), "ru") == "май"


# the demo CRM (SQLite, and PostgreSQL with CRM_PLUGIN_TEST_DATABASE_URL)

def test_reports_over_the_demo_crm(app: Flask, state: PluginState) -> None:
    from crm_plugin.demo import models as m
    from crm_plugin.demo.seed import seed

    now = datetime.now(UTC)
    seed(app, now=now)
    gateway = state.gateway
    period = preset_period(Preset.LAST_MONTH, now, "Europe/Moscow")
    moscow = timezone(timedelta(hours=3))

    def within(moment: datetime | None, span: Period) -> bool:
        return moment is not None and span.start <= moment.astimezone(moscow).date() <= span.end

    with app.app_context():
        orders = m.db.session.scalars(select(m.Order)).all()
        managers = {u.id: u.full_name for u in m.db.session.scalars(select(m.User))}
        report = build_report(gateway, find_spec(gateway, "revenue"), period, breakdown=Breakdown.MANAGER)
        leads = build_report(gateway, find_spec(gateway, "leads"), period, breakdown=Breakdown.LEAD_SOURCE)
        lead_rows = m.db.session.scalars(select(m.Lead)).all()
        summary = build_summary(gateway, period)
    for span, total in ((period, report.total), (period.previous(), report.previous_total)):
        kept = [o for o in orders if within(o.created_at, span) and o.status is not m.OrderStatus.CANCELLED]
        assert total == float(sum((o.amount for o in kept), Decimal(0))) > 0
    by_manager: dict[int | None, Decimal] = {}
    for o in orders:
        if within(o.created_at, period) and o.status is not m.OrderStatus.CANCELLED:
            by_manager[o.manager_id] = by_manager.get(o.manager_id, Decimal(0)) + o.amount
    assert {(r.label, r.value) for r in report.rows} == {
        (managers[k] if k is not None else None, float(v)) for k, v in by_manager.items()}
    assert sum(r.share or 0 for r in report.rows) == pytest.approx(1)
    assert leads.total == sum(within(lead.created_at, period) for lead in lead_rows) > 0
    assert {line.spec.key: line.total for line in summary.lines}["revenue"] == report.total


def test_the_stats_package_needs_no_flask_no_sdk_and_nothing_above_the_host_contract() -> None:
    """The bot, the admin and the scheduler build on crm_plugin.stats: it stands with core and host."""
    from tests.test_architecture import FLASK, GRAPH, SDKS, _within

    allowed = ("crm_plugin.stats", "crm_plugin.host", "crm_plugin.core", "crm_plugin.phones")
    stats = {name: targets for name, targets in GRAPH.items() if _within(name, "crm_plugin.stats")}
    assert "crm_plugin.stats.report" in stats and "crm_plugin.host" in stats["crm_plugin.stats.report"]
    wrong = sorted(f"{name} -> {target}" for name, targets in stats.items() for target in targets
                   if _within(target, FLASK + SDKS) or (_within(target, "crm_plugin") and not _within(target, allowed)))
    assert wrong == []
