"""Statistics in the bot: «📊 Статистика» -> a metric or «Сводка» -> a period -> one StatsReply (text and chart),
who sees what (company figures for admins and managers, «Мои показатели» for field staff, the admin's
rights), typed ranges and their errors, group chats, blocked people and the subscription."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_plugin.bot.stats import STATS_STATE
from crm_plugin.core.chat import Sender, StatsReply, TextReply
from crm_plugin.core.models import ChatState, EmployeeLink, LinkStatus, StatsAccess, StatsChart
from crm_plugin.demo.metrics import SPECS
from crm_plugin.demo.models import Client, Job, Lead, Order, OrderStatus, db
from crm_plugin.host import JobKind, JobStatus, MetricSpec, Role, Unit
from crm_plugin.stats import access
from crm_plugin.stats import formatting as fmt
from crm_plugin.stats.periods import PeriodError, parse_period
from crm_plugin.stats.text import period_error_text
from tests.bot_helpers import NOW, UTC, World, buttons, last_text, link_of, payload_of, person

# NOW is Thursday 5 March 2026 in Moscow: «Этот месяц» is 01.03–05.03, compared with 01.02–05.02.
MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the figures: orders on 2 March, 30 000 ₽ on 2 February
MOSCOW = ZoneInfo("Europe/Moscow")


def rub(value: float) -> str:
    return fmt.amount(value, Unit.ROUBLES, "ru")


def seed_company(world: World, at: datetime) -> dict[str, int]:
    """A manager with two orders on ``at``'s day and the next (255 000 ₽ with another manager's), two measurers
    (2 and 3 measurements done), an installer with one installation, an admin, two leads; 30 000 ₽ four
    weeks before. Returns the CRM ids by login."""
    people = {
        "gareeva": world.user("gareeva", Role.MANAGER, name="Гареева Алсу"),
        "smirnov": world.user("smirnov", Role.MANAGER, name="Смирнов Дмитрий"),
        "chief": world.user("chief", admin=True, name="Главный Админ"),
        "volkov": world.user("volkov", Role.MEASURER, name="Волков Сергей"),
        "orlov": world.user("orlov", Role.MEASURER, name="Орлов Павел"),
        "nikitin": world.user("nikitin", Role.INSTALLER, name="Никитин Алексей"),
    }
    with world.app.app_context():
        client = Client(name="Петров Пётр", phones_text="", address="Казань")
        orders = []
        for number, (amount, manager, when) in enumerate([
                (120_000, "gareeva", at), (80_000, "gareeva", at + timedelta(minutes=1)),
                (55_000, "smirnov", at + timedelta(minutes=2)),
                (30_000, "gareeva", at - timedelta(days=28))]):
            order = Order(number=f"С-{number}", client=client, amount=Decimal(amount), created_at=when,
                          manager_id=people[manager], status=OrderStatus.NEW)
            db.session.add(order)
            orders.append(order)
        for assignee, count, kind in (("volkov", 2, JobKind.MEASUREMENT), ("orlov", 3, JobKind.MEASUREMENT),
                                      ("nikitin", 1, JobKind.INSTALLATION)):
            for index in range(count):
                done = at + timedelta(minutes=index)
                status = JobStatus.MEASURED if kind is JobKind.MEASUREMENT else JobStatus.INSTALLED
                db.session.add(Job(kind=kind, order=orders[0], scheduled_at=done, address="Казань",
                                   assignee_id=people[assignee], status=status, done_at=done))
        db.session.add_all([Lead(source="сайт", text="окна", created_at=at),
                            Lead(source="vk:club1", text="балкон", created_at=at)])
        db.session.commit()
    return people


@pytest.fixture
def company(world: World) -> dict[str, int]:
    return seed_company(world, MARCH)


def stats_replies(turn: object) -> list[StatsReply]:
    return [r for r in turn.sent if isinstance(r, StatsReply)]  # type: ignore[attr-defined]


def the_answer(turn: object) -> StatsReply:
    [reply] = stats_replies(turn)
    return reply


def labels_of(reply: StatsReply) -> list[str]:
    return [b.label for row in reply.buttons for b in row]


def tap_in(reply: StatsReply, label: str) -> str:
    return next(b.payload for row in reply.buttons for b in row if b.label == label and b.payload)


def bound(world: World, login: str) -> Sender:
    sender = person()
    world.bind(sender, login)
    return sender


def metric_labels(world: World, sender: Sender) -> list[str]:
    return [b.label for b in buttons(world.press(sender, "st"))]


# --- who sees what ----------------------------------------------------------------------------------------

def test_a_measurer_sees_only_their_own_rows_and_never_company_revenue(world: World,
                                                                       company: dict[str, int]) -> None:
    volkov = bound(world, "volkov")
    menu = world.say(volkov, "/menu")
    assert "📊 Статистика" in [b.label for b in buttons(menu)]
    shown = world.press(volkov, payload_of(menu, "📊 Статистика"))
    assert "Мои показатели: выберите показатель." in last_text(shown)
    assert [b.label for b in buttons(shown)] == ["Выполненные замеры", "Выполненные монтажи", "Сводка",
                                                 "🔔 Подписка", "Меню"]
    periods = world.press(volkov, payload_of(shown, "Выполненные замеры"))
    reply = the_answer(world.press(volkov, payload_of(periods, "Этот месяц")))
    assert reply.text.startswith("📊 Мои показатели: Выполненные замеры\nЭтот месяц: 01.03–05.03.2026")
    assert "Итого: 2\n" in reply.text  # his 2, not the company's 5
    assert "Волков" not in reply.text and "Орлов" not in reply.text
    assert labels_of(reply) == ["Другой период", "Меню"]  # no breakdown of one person's own figures
    assert reply.chart_key and reply.chart_key.startswith("stats-series-measurements_done-")

    refused = world.press(volkov, "st:p:revenue:this_month")  # a forged button for the company's revenue
    assert stats_replies(refused) == [] and "Этот показатель вам недоступен." in last_text(refused)
    assert stats_replies(world.press(volkov, "st:d:measurements_done:20260301-20260305:employee")) == []

    summary = the_answer(world.press(volkov, "st:p:_all:this_month"))
    assert summary.text.startswith("📊 Мои показатели\nЭтот месяц: 01.03–05.03.2026")
    assert "Выполненные замеры: 2 " in summary.text and "Выполненные монтажи: 0 " in summary.text
    assert "Выручка" not in summary.text and "₽" not in summary.text and summary.chart_key is None


def test_a_manager_without_jobs_gets_the_statistics_in_the_menu(world: World, company: dict[str, int]) -> None:
    menu = world.bind(person(), "gareeva")
    assert last_text(menu).endswith("Меню:") and [b.label for b in buttons(menu)] == ["📊 Статистика", "Отвязать"]


def test_an_installer_sees_their_installations(world: World, company: dict[str, int]) -> None:
    nikitin = bound(world, "nikitin")
    reply = the_answer(world.press(nikitin, "st:p:installations_done:this_month"))
    assert "Мои показатели: Выполненные монтажи" in reply.text and "Итого: 1\n" in reply.text


def test_a_manager_sees_company_figures_and_the_breakdown(world: World, company: dict[str, int]) -> None:
    gareeva = bound(world, "gareeva")
    shown = world.press(gareeva, "st")
    assert "Статистика компании: выберите показатель." in last_text(shown)
    assert [b.label for b in buttons(shown)][:len(SPECS)] == [spec.title_ru for spec in SPECS]
    periods = world.press(gareeva, payload_of(shown, "Выручка"))
    assert "Выручка: выберите период или напишите даты, например 01.11–15.11." in last_text(periods)
    reply = the_answer(world.press(gareeva, payload_of(periods, "Этот месяц")))
    assert f"Итого: {rub(255_000)}\n" in reply.text  # every manager's orders: 120 000 + 80 000 + 55 000
    assert f"Прошлый период (01.02–05.02.2026): {rub(30_000)}" in reply.text
    assert labels_of(reply) == ["Другой период", "Детализация", "Меню"]

    detail = the_answer(world.press(gareeva, tap_in(reply, "Детализация")))
    assert "По менеджерам:" in detail.text
    assert f"1. Гареева Алсу — {rub(200_000)}" in detail.text and f"2. Смирнов Дмитрий — {rub(55_000)}" in detail.text
    assert detail.chart_key and detail.chart_key.startswith("stats-breakdown-revenue-")
    assert labels_of(detail) == ["Другой период", "Меню"]

    other = world.press(gareeva, tap_in(detail, "Другой период"))
    assert "Сегодня" in [b.label for b in buttons(other)]


def test_an_admin_sees_every_measurer_in_the_breakdown(world: World, company: dict[str, int]) -> None:
    chief = bound(world, "chief")
    reply = the_answer(world.press(chief, "st:p:measurements_done:this_month"))
    assert "📊 Выполненные замеры\n" in reply.text and "Итого: 5\n" in reply.text
    detail = the_answer(world.press(chief, tap_in(reply, "Детализация")))
    assert "По сотрудникам:" in detail.text
    assert "1. Орлов Павел — 3 (60" in detail.text and "2. Волков Сергей — 2 (40" in detail.text


def test_the_company_summary_lists_every_metric(world: World, company: dict[str, int]) -> None:
    gareeva = bound(world, "gareeva")
    periods = world.press(gareeva, payload_of(world.press(gareeva, "st"), "Сводка"))
    summary = the_answer(world.press(gareeva, payload_of(periods, "Этот месяц")))
    lines = summary.text.split("\n")
    assert lines[:3] == ["📊 Сводка", "Этот месяц: 01.03–05.03.2026", "(сравнение с 01.02–05.02.2026)"]
    assert [line.split(":")[0] for line in lines[4:]] == [spec.title_ru for spec in SPECS]
    assert f"Выручка: {rub(255_000)} " in summary.text and "Заявки: 2 " in summary.text
    assert "Выполненные замеры: 5 " in summary.text
    assert summary.chart_key is None and labels_of(summary) == ["Другой период", "Меню"]


def test_the_admin_takes_a_metric_away_from_a_role(world: World, company: dict[str, int]) -> None:
    with world.state.db.session() as session:
        access.set_rights(session, SPECS, {(role, spec.key) for role in access.ROLES for spec in SPECS}
                          - {(Role.MEASURER, "installations_done"), (Role.MANAGER, "revenue")})
    volkov, nikitin, gareeva = bound(world, "volkov"), bound(world, "nikitin"), bound(world, "gareeva")
    assert "Выполненные монтажи" not in metric_labels(world, volkov)
    assert "Выполненные монтажи" in metric_labels(world, nikitin)
    assert "Выручка" not in metric_labels(world, gareeva)
    assert stats_replies(world.press(gareeva, "st:p:revenue:today")) == []  # an old button obeys too
    assert "Выручка" not in the_answer(world.press(gareeva, "st:p:_all:today")).text

    with world.state.db.session() as session:  # nothing left for measurers: no menu entry at all
        access.set_rights(session, SPECS, set())
        assert session.scalar(select(StatsAccess).where(StatsAccess.role == "admin")) is not None
    assert "📊 Статистика" not in [b.label for b in buttons(world.say(volkov, "/menu"))]
    assert "Статистика вам недоступна." in last_text(world.say(volkov, "Статистика"))


def test_the_rule_and_the_rights_grid() -> None:
    measurer, manager = access.Viewer(7, frozenset({Role.MEASURER})), access.Viewer(8, frozenset({Role.MANAGER}))
    both = access.Viewer(9, frozenset({Role.MANAGER, Role.INSTALLER}))
    assert (measurer.employee_id, manager.employee_id, both.employee_id) == (7, None, None)
    assert access.Viewer(10, frozenset()).rights_roles == ()
    own = [s.key for s in SPECS if access.allowed_by_rule(s, Role.MEASURER)]
    assert own == ["measurements_done", "installations_done"]
    assert all(access.allowed_by_rule(s, Role.ADMIN) for s in SPECS)


def test_a_crm_user_with_no_role_has_no_statistics(world: World, company: dict[str, int]) -> None:
    world.user("plain", name="Просто Сотрудник")
    sender = bound(world, "plain")
    menu = world.say(sender, "/menu")
    assert "📊 Статистика" not in [b.label for b in buttons(menu)]
    assert "Для вашей роли в CRM в этом боте нет заявок." in last_text(menu)  # the hook added nothing
    assert stats_replies(world.press(sender, "st:p:_all:today")) == []


# --- taps, typed ranges and their errors --------------------------------------------------------------------

def test_three_taps_from_the_main_menu_to_a_chart(world: World, company: dict[str, int]) -> None:
    gareeva = bound(world, "gareeva")
    screen, taps = world.say(gareeva, "Меню"), 0
    for label in ("📊 Статистика", "Новые заказы", "Прошлая неделя"):
        screen, taps = world.press(gareeva, payload_of(screen, label)), taps + 1
    reply = the_answer(screen)
    assert taps == 3 and reply.chart_key
    assert reply.text.startswith("📊 Новые заказы\nПрошлая неделя: 23.02–01.03.2026")
    with world.state.db.session() as session:  # stored with the reply, for the worker to draw
        assert session.scalar(select(StatsChart.key).where(StatsChart.key == reply.chart_key)) == reply.chart_key
    [queued] = [m for m in world.outbox(gareeva.chat_id) if m.kind == "stats"]
    assert queued.payload["chart_key"] == reply.chart_key


@pytest.mark.parametrize("typed, heading", [
    ("01.03–04.03", "01.03–04.03.2026"),
    ("01.03.2026-05.03.2026", "01.03–05.03.2026"),
    ("с 1.02 по 28.02", "01.02–28.02.2026"),
])
def test_a_typed_range(world: World, company: dict[str, int], typed: str, heading: str) -> None:
    gareeva = bound(world, "gareeva")
    world.press(gareeva, "st:m:new_orders")
    reply = the_answer(world.say(gareeva, typed))
    assert reply.text.split("\n")[:2] == ["📊 Новые заказы", heading]
    again = the_answer(world.say(gareeva, "вчера"))  # a period's name typed, still in the statistics
    assert again.text.split("\n")[1] == "Вчера: 04.03.2026"


@pytest.mark.parametrize("typed", ["01.13–05.13", "прошлый вторник", "05.03.2026–01.03.2026", "01.04.2026–05.04.2026"])
def test_a_wrong_range_says_what_to_type(world: World, company: dict[str, int], typed: str) -> None:
    gareeva = bound(world, "gareeva")
    world.press(gareeva, "st:m:revenue")
    turn = world.say(gareeva, typed)
    assert stats_replies(turn) == []
    try:
        parse_period(typed, NOW.astimezone(MOSCOW).date())
    except PeriodError as error:
        expected = period_error_text(error, "ru")
    else:  # pragma: no cover - every case above is a wrong range
        raise AssertionError(typed)
    assert last_text(turn) == expected
    if typed == "прошлый вторник":
        assert "Напишите даты так: 01.11–15.11" in expected
    assert link_state(world, gareeva) == STATS_STATE  # the next try is read as a period too
    assert the_answer(world.say(gareeva, "01.03-02.03")).text.startswith("📊 Выручка")


def test_typed_labels_reach_the_statistics(world: World, company: dict[str, int]) -> None:
    gareeva = bound(world, "gareeva")
    assert "Статистика компании" in last_text(world.say(gareeva, "статистика"))
    assert "Выручка: выберите период" in last_text(world.say(gareeva, "Выручка"))
    assert the_answer(world.say(gareeva, "Этот месяц")).text.startswith("📊 Выручка")
    assert "По менеджерам:" in the_answer(world.say(gareeva, "Детализация")).text
    assert "Меню" in last_text(world.say(gareeva, "меню"))  # the menu still answers its own label


# --- refusals ---------------------------------------------------------------------------------------------

def test_a_group_chat_is_refused(world: World, company: dict[str, int]) -> None:
    bound(world, "gareeva")
    group = Sender(user_id="5001", chat_id="-100777", name="Отдел продаж", language="ru", is_group=True)
    for asked in (world.say(group, "Статистика"), world.say(group, "/stats@okna_bot"), world.press(group, "st")):
        assert [r.text for r in asked.sent if isinstance(r, TextReply)] == [
            "Статистика доступна только в личном чате с ботом. Напишите боту в личные сообщения."]
    assert world.say(group, "всем привет").sent == []  # other group talk stays unanswered


def test_blocked_and_inactive_people_get_no_figures(world: World, company: dict[str, int]) -> None:
    gareeva, orlov = bound(world, "gareeva"), bound(world, "orlov")
    with world.state.db.session() as session:
        link = session.scalars(select(EmployeeLink).where(EmployeeLink.crm_user_id == company["gareeva"])).one()
        link.status = LinkStatus.BLOCKED
    turn = world.press(gareeva, "st:p:revenue:this_month")
    assert stats_replies(turn) == [] and "заблокировал вам доступ" in last_text(turn)
    world.set_user(company["orlov"], active=False)
    turn = world.press(orlov, "st:p:_all:this_month")
    assert stats_replies(turn) == [] and "отключена" in last_text(turn)


# --- the subscription -------------------------------------------------------------------------------------

def test_the_subscription_switches_on_and_off(world: World, company: dict[str, int]) -> None:
    volkov = bound(world, "volkov")
    assert "Подписка на статистику выключена." in last_text(world.press(volkov, "st"))
    on = world.press(volkov, "st:sub")
    assert last_text(on).startswith("Готово: подписка на статистику включена.")
    assert link_of(world, volkov).subscribed_stats is True  # type: ignore[union-attr]
    off = world.say(volkov, "Подписка")
    assert last_text(off).startswith("Готово: подписка на статистику выключена.")
    assert link_of(world, volkov).subscribed_stats is False  # type: ignore[union-attr]


def test_english_speakers_get_english(world: World, company: dict[str, int]) -> None:
    world.user("jones", Role.MANAGER, name="Jones Ann")
    jones = person("Ann", language="en")
    world.bind(jones, "jones")
    shown = world.say(jones, "Statistics")
    assert "Company statistics: choose a figure." in last_text(shown)
    assert "Revenue" in [b.label for b in buttons(shown)]
    reply = the_answer(world.press(jones, "st:p:revenue:this_month"))
    assert reply.text.startswith("📊 Revenue\nThis month:") and labels_of(reply)[:2] == ["Other period", "Details"]


def link_state(world: World, sender: Sender) -> str:
    with world.state.db.session() as session:
        chat = session.get(ChatState, (world.bot_id, sender.chat_id))
        return chat.state if chat else ""


def test_a_metric_key_no_button_can_carry_is_left_out(world: World, company: dict[str, int],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    odd = MetricSpec(key="выручка:всего", title_ru="Странная", title_en="Odd", unit=Unit.PIECES)
    long = MetricSpec(key="k" * 60, title_ru="Длинная", title_en="Long", unit=Unit.PIECES)
    monkeypatch.setattr(world.state.gateway, "metrics", lambda: [*SPECS, odd, long])
    chief = bound(world, "chief")
    labels = metric_labels(world, chief)
    assert "Выручка" in labels and "Странная" not in labels and "Длинная" not in labels
