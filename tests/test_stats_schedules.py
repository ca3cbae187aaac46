"""crm_plugin.bot.stats_schedules: a schedule fires exactly once at its due time in Europe/Moscow however many
workers look at the same moment (two threads on two engines, on SQLite and PostgreSQL), skips a send whose
figures are all zero with a log line, catches up once after a short outage and skips (visibly) after more
than an hour. A fixed "now" is passed in: nothing sleeps. Also the due-time rules and the admin's form."""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from crm_plugin import PluginState
from crm_plugin.bot.stats_schedules import (
    LAST_DAY,
    latest_due,
    parse_time,
    parse_weekdays,
    run_schedules,
    stats_clock_tasks,
)
from crm_plugin.core.db import Database
from crm_plugin.core.models import Bot, EmployeeLink, LinkStatus, Message, Platform, StatsRun, StatsSchedule
from crm_plugin.host import Role
from crm_plugin.testing import InMemoryGateway
from crm_plugin.testing.stats import fill_stats

from .admin_helpers import ADMIN_URL, admin_client, page, post

MOSCOW = ZoneInfo("Europe/Moscow")
DUE = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # 09:00 on Monday 16 November in Moscow
CREATED = DUE - timedelta(hours=12)  # Sunday evening: after that day's 09:00


@pytest.fixture
def company(state: PluginState) -> tuple[InMemoryGateway, int]:
    """The company's figures, two managers and a measurer subscribed on one Telegram bot."""
    gateway = InMemoryGateway(clock=lambda: DUE)
    world = fill_stats(gateway, DUE)
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Тест", credentials_encrypted=state.secrets.seal({"token": "1:a"}))
        session.add(bot)
        session.flush()
        for user_id in (*world.managers[:2], world.measurers[0]):
            session.add(EmployeeLink(bot_id=bot.id, crm_user_id=user_id, platform_user_id=str(user_id),
                                     chat_id=str(user_id), status=LinkStatus.BOUND, subscribed_stats=True))
    return gateway, 3


def add_schedule(state: PluginState, **values: object) -> int:
    fields: dict[str, object] = {"name": "Утренняя сводка", "frequency": "daily", "time": "09:00",
                                 "period": "yesterday", "metrics": "revenue,measurements_done",
                                 "audience": "subscribers", "skip_empty": True, "created_at": CREATED,
                                 "updated_at": CREATED, **values}
    with state.db.session() as session:
        schedule = StatsSchedule(**fields)
        session.add(schedule)
        session.flush()
        return schedule.id


def runs(state: PluginState, schedule_id: int) -> list[StatsRun]:
    with state.db.session() as session:
        found = session.scalars(select(StatsRun).where(StatsRun.schedule_id == schedule_id)).all()
        session.expunge_all()
        return list(found)


def messages(state: PluginState) -> int:
    with state.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_a_schedule_fires_once_at_its_due_time_with_two_workers_racing(
        state: PluginState, company: tuple[InMemoryGateway, int]) -> None:
    gateway, people = company
    schedule_id = add_schedule(state)
    assert run_schedules(state.db, gateway, state.settings, DUE - timedelta(seconds=1)) == 0  # yesterday's was
    assert runs(state, schedule_id) == []  # before the schedule existed: not a missed one

    second = Database(state.db.url)  # another worker process has its own engine
    barrier = threading.Barrier(2)
    claimed: list[int] = []

    def worker(db: Database) -> None:
        barrier.wait()
        claimed.append(run_schedules(db, gateway, state.settings, DUE + timedelta(seconds=5)))

    threads = [threading.Thread(target=worker, args=(db,)) for db in (state.db, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    second.dispose()
    assert sorted(claimed) == [0, 1]
    (run,) = runs(state, schedule_id)
    assert run.status == "sent" and run.due_at == DUE and run.recipients == people
    # managers: revenue and measurements of the company; the measurer: their own measurements
    assert messages(state) == 2 * 2 + 1
    assert run.spec["period"] == "20261115-20261115-yesterday"  # Sunday, the company's yesterday
    assert run_schedules(state.db, gateway, state.settings, DUE + timedelta(seconds=30)) == 0
    assert messages(state) == 5
    tomorrow = DUE + timedelta(days=1, seconds=1)
    assert run_schedules(state.db, gateway, state.settings, tomorrow) == 1
    assert len(runs(state, schedule_id)) == 2


@pytest.mark.usefixtures("company")
def test_an_empty_send_is_skipped_with_a_log_line(state: PluginState, caplog: pytest.LogCaptureFixture) -> None:
    quiet = InMemoryGateway(clock=lambda: DUE)  # people with the same ids as the links', no figures at all
    for index in range(12):
        quiet.add_user(f"m{index}", "Менеджер", roles={Role.MANAGER})
    skipping = add_schedule(state)
    sending = add_schedule(state, name="Всегда", skip_empty=False)
    with caplog.at_level(logging.INFO, logger="crm_plugin.bot.stats_schedules"):
        assert run_schedules(state.db, quiet, state.settings, DUE + timedelta(minutes=1)) == 2
    (skipped,) = runs(state, skipping)
    assert skipped.status == "skipped" and skipped.note == "every figure is zero"
    assert any("skipped: every figure is zero" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    (sent,) = runs(state, sending)
    assert sent.status == "sent" and messages(state) > 0


def test_a_short_outage_is_caught_up_once_and_a_long_one_skipped(
        state: PluginState, company: tuple[InMemoryGateway, int], caplog: pytest.LogCaptureFixture) -> None:
    gateway, _ = company
    schedule_id = add_schedule(state)
    assert run_schedules(state.db, gateway, state.settings, DUE + timedelta(minutes=40)) == 1  # back after 40 min
    assert run_schedules(state.db, gateway, state.settings, DUE + timedelta(minutes=41)) == 0
    (late,) = runs(state, schedule_id)
    assert late.status == "sent"
    sent = messages(state)

    next_due = DUE + timedelta(days=1)
    with caplog.at_level(logging.WARNING, logger="crm_plugin.bot.stats_schedules"):
        assert run_schedules(state.db, gateway, state.settings, next_due + timedelta(minutes=61)) == 1
        assert run_schedules(state.db, gateway, state.settings, next_due + timedelta(minutes=62)) == 0
    missed = [r for r in runs(state, schedule_id) if r.due_at == next_due]
    assert [(r.status, r.note) for r in missed] == [("skipped", "missed by 61 min (the worker was not running)")]
    assert messages(state) == sent  # nothing sent for it
    assert any("skipped: missed by 61 min" in r.getMessage() for r in caplog.records)


def test_the_clock_tasks_run_the_schedules_with_the_injected_now(
        state: PluginState, company: tuple[InMemoryGateway, int]) -> None:
    gateway, _ = company
    schedule_id = add_schedule(state)
    sends, schedules = stats_clock_tasks(dataclasses.replace(state, gateway=gateway), now=lambda: DUE + timedelta(seconds=2))
    assert 20 <= schedules.interval <= 30 and sends.interval < schedules.interval
    schedules.run()
    schedules.run()
    assert len(runs(state, schedule_id)) == 1


def schedule(**values: object) -> StatsSchedule:
    return StatsSchedule(**{"frequency": "daily", "time": "09:00", "weekdays": "", "month_day": None, **values})


def test_due_times_in_the_companys_zone() -> None:
    monday_noon = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    assert latest_due(schedule(), monday_noon, MOSCOW) == DUE
    assert latest_due(schedule(time="23:30"), monday_noon, MOSCOW) == datetime(2026, 11, 15, 20, 30, tzinfo=UTC)
    weekly = schedule(frequency="weekly", weekdays="2,4")  # Wednesday and Friday
    assert latest_due(weekly, monday_noon, MOSCOW) == datetime(2026, 11, 13, 6, 0, tzinfo=UTC)
    last = schedule(frequency="monthly", month_day=LAST_DAY, time="18:00")
    assert latest_due(last, monday_noon, MOSCOW) == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    fifth = schedule(frequency="monthly", month_day=5)
    assert latest_due(fifth, monday_noon, MOSCOW) == datetime(2026, 11, 5, 6, 0, tzinfo=UTC)
    for bad in ("24:00", "9:00", "09:60", "", "09:00:00", "ab:cd"):
        with pytest.raises(ValueError):
            parse_time(bad)
    assert parse_weekdays("0, 6") == {0, 6}
    for bad in ("", "7", "-1", "x"):
        with pytest.raises(ValueError):
            parse_weekdays(bad)


def test_the_admins_schedule_form_checks_what_it_stores(app: Flask, state: PluginState) -> None:
    client = admin_client(app)
    assert "Расписания статистики" in page(client, "/")
    path = "/stats-schedules/new/"
    base = {"name": "По пятницам", "enabled": "y", "frequency": "weekly", "month_day": "1", "period": "last_week",
            "metric_list": ["revenue"], "audience": "roles", "role_list": ["manager"], "skip_empty": "y"}
    refused = post(client, path, {**base, "time": "25:00", "weekday_list": []})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "Время в виде ЧЧ:ММ" in html and "Выберите хотя бы один день недели" in html
    with state.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StatsSchedule)) == 0
    saved = post(client, path, {**base, "time": "9:05".zfill(5), "weekday_list": ["4", "0"]})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    with state.db.session() as session:
        (row,) = session.scalars(select(StatsSchedule)).all()
        assert (row.weekdays, row.time, row.metrics, row.roles, row.audience) == ("0,4", "09:05", "revenue",
                                                                                  "manager", "roles")
    listing = client.get(ADMIN_URL + "/stats-schedules/").get_data(as_text=True)
    assert "По пятницам" in listing and "09:05" in listing
