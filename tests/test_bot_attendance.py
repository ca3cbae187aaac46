"""Clocking in and out, the place, and the timesheet built from it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm_plugin.bot import timesheet
from crm_plugin.core.chat import ButtonKind, Location
from crm_plugin.core.models import Attendance
from crm_plugin.host import Role
from tests.bot_helpers import NOW, UTC, World, buttons, last_text, payload_of, person, texts

MOSCOW = ZoneInfo("Europe/Moscow")


def shifts(world: World) -> list[Attendance]:
    with world.state.db.session() as session:
        return list(session.scalars(select(Attendance).order_by(Attendance.id)))


def test_clock_in_with_location_then_out(world: World) -> None:
    uid = world.user("me", Role.INSTALLER)
    sender = person()
    world.bind(sender, "me")
    menu = world.press(sender, "att")
    assert "Приход не отмечен" in last_text(menu)
    arrived = world.press(sender, payload_of(menu, "Пришёл"))
    assert "пришёл в 00:30" in last_text(arrived)  # NOW is 00:30 in Moscow
    assert [b.kind for b in buttons(arrived)][0] is ButtonKind.REQUEST_LOCATION
    located = world.send(sender, Location(55.8, 49.1))
    # the place alone first, taking the location keyboard away; then the menu with its buttons
    assert texts(located)[0] == "Место записано." and located.sent[0].remove_keyboard  # type: ignore[union-attr]
    assert "Меню" in last_text(located)
    later = NOW + timedelta(hours=8, minutes=5)
    left = world.say(sender, "Ушёл", now=later)
    assert "ушёл в 08:35" in last_text(left) and "8 ч 05 мин" in last_text(left)
    world.press(sender, "att:skip", now=later)
    [shift] = shifts(world)
    assert (shift.crm_user_id, shift.started_at, shift.ended_at) == (uid, NOW, later)
    assert (shift.start_latitude, shift.start_longitude) == (55.8, 49.1)
    assert shift.end_latitude is None  # skipped


def test_second_clock_in_is_refused_with_the_open_time(world: World) -> None:
    world.user("me", Role.MEASURER)
    sender = person()
    world.bind(sender, "me")
    world.press(sender, "att:in")
    turn = world.press(sender, "att:in", now=NOW + timedelta(hours=2))
    assert "уже отметили приход в 00:30" in last_text(turn)
    assert len(shifts(world)) == 1


def test_clock_out_without_clock_in_is_refused(world: World) -> None:
    world.user("me", Role.MEASURER)
    sender = person()
    world.bind(sender, "me")
    turn = world.press(sender, "att:out")
    assert "Приход не отмечен" in last_text(turn)
    assert shifts(world) == []


def test_a_location_outside_clocking_is_not_recorded(world: World) -> None:
    world.user("me", Role.MEASURER)
    sender = person()
    world.bind(sender, "me")
    turn = world.send(sender, Location(1.0, 2.0))
    assert "только при отметке" in last_text(turn)
    assert shifts(world) == []


def _shift(world: World, user_id: int, start: datetime, end: datetime | None) -> None:
    with world.state.db.session() as session:
        session.add(Attendance(crm_user_id=user_id, started_at=start, ended_at=end))


def test_timesheet_hours_per_employee_per_local_day(world: World) -> None:
    msk = lambda *a: datetime(*a, tzinfo=MOSCOW).astimezone(UTC)  # noqa: E731
    _shift(world, 1, msk(2026, 3, 2, 9, 0), msk(2026, 3, 2, 13, 0))
    _shift(world, 1, msk(2026, 3, 2, 14, 0), msk(2026, 3, 2, 18, 30))
    _shift(world, 1, msk(2026, 3, 3, 22, 0), msk(2026, 3, 4, 2, 0))  # over midnight: split
    _shift(world, 2, msk(2026, 3, 2, 0, 30), msk(2026, 3, 2, 8, 30))  # 21:30 UTC the day before
    _shift(world, 2, msk(2026, 3, 4, 9, 0), None)  # still open
    _shift(world, 1, msk(2026, 3, 6, 9, 0), msk(2026, 3, 6, 10, 0))  # outside the period
    with world.state.db.session() as session:
        rows = timesheet(session, date(2026, 3, 2), date(2026, 3, 4), MOSCOW)
    got = [(r.crm_user_id, r.day.isoformat(), r.hours, r.open) for r in rows]
    assert got == [
        (1, "2026-03-02", 8.5, False),
        (1, "2026-03-03", 2.0, False),
        (1, "2026-03-04", 2.0, False),
        (2, "2026-03-02", 8.0, False),
        (2, "2026-03-04", 0.0, True),
    ]
    assert rows[0].first_in == msk(2026, 3, 2, 9, 0) and rows[0].last_out == msk(2026, 3, 2, 18, 30)
    assert rows[-1].last_out is None
    with world.state.db.session() as session:
        assert [r.day.isoformat() for r in timesheet(session, date(2026, 3, 1), date(2026, 3, 1), "UTC")] == [
            "2026-03-01"]  # in UTC user 2's night shift starts on the 1st
