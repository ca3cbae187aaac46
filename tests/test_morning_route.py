"""The morning route: once per person and working day, the day's jobs in time order with one Yandex Maps link
through them all, nothing for people with no jobs, nothing on a day off; the admin sets the time and days."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from crm_plugin.bot.route import send_due_routes
from crm_plugin.core.models import RouteSent, RouteSettings
from crm_plugin.host import JobKind, JobStatus, Role
from tests.admin_helpers import admin_client, page, post
from tests.bot_helpers import MSK, UTC, World, person

THURSDAY = datetime(2026, 3, 5, 8, 5, tzinfo=MSK)  # a working day, just after the default 08:00
SUNDAY = datetime(2026, 3, 8, 8, 5, tzinfo=MSK)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute).astimezone(UTC)


def routes(world: World, now: datetime) -> int:
    with world.app.app_context():
        return send_due_routes(world.state, now.astimezone(UTC))


def route_messages(world: World, chat_id: str) -> list[dict]:  # type: ignore[type-arg]
    return [m.payload for m in world.outbox(chat_id) if "Маршрут на" in m.payload.get("text", "")]


def test_the_route_comes_once_in_time_order_with_one_yandex_link(world: World) -> None:
    world.add_bot()
    measurer = world.user("volkov", Role.MEASURER)
    installer = world.user("nikitin", Role.INSTALLER)
    idle = world.user("orlov", Role.MEASURER)
    unbound = world.user("galiev", Role.INSTALLER)
    # the measurer's day, created out of order: 14:00, 10:00 (no coordinates), 12:00; and jobs not on the route
    world.job(at=at(THURSDAY, 14), assignee=measurer, lat=55.8, lon=49.2, client="Сафина Лилия")
    world.job(at=at(THURSDAY, 10), assignee=measurer, lat=None, lon=None,
                        address="г. Казань, ул. Пушкина, д. 10, кв. 3", client="Иванов Иван")
    world.job(at=at(THURSDAY, 12), assignee=measurer, lat=55.79, lon=49.12)
    world.job(at=at(THURSDAY, 16), assignee=measurer, status=JobStatus.CANCELLED)
    world.job(at=at(THURSDAY + timedelta(days=1), 9), assignee=measurer)  # tomorrow's
    world.job(JobKind.INSTALLATION, at=at(THURSDAY, 9), assignee=installer)
    world.job(JobKind.INSTALLATION, at=at(THURSDAY, 9), assignee=unbound)
    senders = {uid: person() for uid in (measurer, installer, idle)}
    for uid, login in ((measurer, "volkov"), (installer, "nikitin"), (idle, "orlov")):
        world.bind(senders[uid], login)

    assert routes(world, THURSDAY - timedelta(minutes=10)) == 0  # 07:55: not yet
    assert routes(world, THURSDAY) == 2  # the measurer and the installer; not the idle one, not the unbound
    assert routes(world, THURSDAY + timedelta(hours=2)) == 0  # once a day
    [route] = route_messages(world, senders[measurer].chat_id)
    assert route_messages(world, senders[idle].chat_id) == []
    assert len(route_messages(world, senders[installer].chat_id)) == 1

    text = route["text"]
    assert text.startswith("Маршрут на 05.03.2026, визитов: 3")
    lines = [line for line in text.splitlines() if line[:2] in ("1.", "2.", "3.")][:3]
    assert lines == ["1. 10:00 ул. Пушкина, 10 — Иванов Иван, +79170001122",
                     "2. 12:00 ул. Баумана, 5 — Петров Пётр Сергеевич, +79170001122",
                     "3. 14:00 ул. Баумана, 5 — Сафина Лилия, +79170001122"]
    [[link]] = route["buttons"]
    url = urlsplit(link["url"])
    assert (url.netloc, url.path) == ("yandex.ru", "/maps/")
    query = parse_qs(url.query)
    assert query["rtt"] == ["auto"]
    # the points in the day's order; the stop with no coordinates by its address
    assert query["rtext"][0].split("~") == ["г. Казань, ул. Пушкина, д. 10, кв. 3", "55.79,49.12", "55.8,49.2"]
    assert link["url"] in text and "openstreetmap.org/?mlat=55.79&mlon=49.12" in text
    with world.state.db.session() as session:
        sent = sorted((r.crm_user_id, r.day, r.jobs) for r in session.scalars(select(RouteSent)))
    assert sent == sorted([(measurer, "2026-03-05", 3), (installer, "2026-03-05", 1)])


def test_a_route_another_worker_claimed_is_not_sent_again(world: World) -> None:
    world.add_bot()
    measurer = world.user("volkov", Role.MEASURER)
    world.job(at=at(THURSDAY, 10), assignee=measurer)
    sender = person()
    world.bind(sender, "volkov")
    with world.state.db.session() as session:  # another worker process got there first
        session.add(RouteSent(crm_user_id=measurer, day="2026-03-05", jobs=1))
    assert routes(world, THURSDAY) == 0
    assert route_messages(world, sender.chat_id) == []


def test_no_route_on_a_day_off_unless_the_admin_makes_it_a_working_day(world: World) -> None:
    world.add_bot()
    measurer = world.user("volkov", Role.MEASURER)
    world.job(at=at(SUNDAY, 11), assignee=measurer)
    sender = person()
    world.bind(sender, "volkov")
    assert routes(world, SUNDAY) == 0  # Monday to Saturday by default

    admin = admin_client(world.app)
    assert 'value="08:00"' in page(admin, "/route/")
    refused = post(admin, "/route/", {"enabled": "1", "send_at": "25:00"}, follow_redirects=True)
    assert "ЧЧ:ММ" in refused.get_data(as_text=True)
    saved = post(admin, "/route/", {"enabled": "1", "send_at": "07:30", "day5": "1", "day6": "1"},
                 follow_redirects=True)
    assert "Утренний маршрут сохранён" in saved.get_data(as_text=True)
    with world.state.db.session() as session:
        row = session.get(RouteSettings, 1)
        assert row is not None and (row.send_at, row.weekdays, row.enabled) == ("07:30", "56", True)
    assert routes(world, SUNDAY.replace(hour=7, minute=20)) == 0
    assert routes(world, SUNDAY.replace(hour=7, minute=31)) == 1
    assert len(route_messages(world, sender.chat_id)) == 1
    assert routes(world, THURSDAY) == 0  # Thursday is no longer a working day
