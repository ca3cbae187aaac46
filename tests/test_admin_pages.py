"""The dashboard, the timesheet (Табель) with its CSV, the menu from plugin.toml, and the English texts under
the host's Flask-Babel."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from flask.testing import FlaskClient

from crm_plugin import PluginState
from crm_plugin.core.models import (
    Attendance,
    Bot,
    Direction,
    EmployeeLink,
    LinkStatus,
    Message,
    MessageStatus,
    Platform,
)

from .admin_helpers import ADMIN_URL, add_user, admin_client, page

UTC = timezone.utc


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    return admin_client(app, client)


def test_the_dashboard_counts_bots_bindings_messages_and_failures(app: Flask, state: PluginState,
                                                                  admin: FlaskClient) -> None:
    users = [add_user(app, f"u{i}") for i in range(3)]
    now = datetime.now(UTC)
    with state.db.session() as session:
        bot = Bot(platform=Platform.TELEGRAM, name="Замеры", platform_bot_id="42", webhook_url="https://x/1",
                  credentials_encrypted=state.secrets.seal({"token": "1:a"}))
        session.add(bot)
        session.flush()
        session.add_all([EmployeeLink(bot_id=bot.id, crm_user_id=users[0], status=LinkStatus.BOUND),
                         EmployeeLink(bot_id=bot.id, crm_user_id=users[1], status=LinkStatus.BOUND),
                         EmployeeLink(bot_id=bot.id, crm_user_id=users[2], status=LinkStatus.BLOCKED)])
        for age, status, error in ((timedelta(minutes=1), MessageStatus.SENT, None),
                                   (timedelta(minutes=2), MessageStatus.FAILED, "chat not found"),
                                   (timedelta(days=2), MessageStatus.FAILED, "old failure")):
            session.add(Message(bot_id=bot.id, chat_id="7", direction=Direction.OUT, kind="text", preview="x",
                                status=status, error=error, created_at=now - age))
    html = page(admin, "/")
    assert 'id="failures-count">1<' in html and "chat not found" in html and "old failure" not in html
    assert 'id="messages-today">' in html and 'id="bots-count">1<' in html
    assert '<td class="bound">2</td>' in html and "установлен" in html


def test_the_timesheet_shows_hours_per_day_and_exports_csv(app: Flask, state: PluginState, admin: FlaskClient) -> None:
    worker = add_user(app, "nikitin", full_name="Никитин Алексей")
    with state.db.session() as session:
        session.add_all([
            # 09:00-17:30 and 18:00-19:00 in Moscow on 2 March: 9.5 hours
            Attendance(crm_user_id=worker, started_at=datetime(2026, 3, 2, 6, 0, tzinfo=UTC),
                       ended_at=datetime(2026, 3, 2, 14, 30, tzinfo=UTC), start_latitude=55.7887,
                       start_longitude=49.1221, end_latitude=55.8, end_longitude=49.1),
            Attendance(crm_user_id=worker, started_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
                       ended_at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
            Attendance(crm_user_id=worker, started_at=datetime(2026, 3, 3, 6, 0, tzinfo=UTC)),  # still open
        ])
    html = page(admin, "/timesheet/?start=2026-03-01&end=2026-03-07")
    assert "Никитин Алексей" in html and "9.50" in html and "0.00…" in html
    assert "09:00–19:00" in html  # arrival and departure of the day, company time
    shifts = html.split('id="crm-shifts"', 1)[1]
    assert "02.03.2026 09:00" in shifts and "02.03.2026 17:30" in shifts and "смена открыта" in shifts
    assert 'href="https://www.openstreetmap.org/?mlat=55.788700&amp;mlon=49.122100' in shifts
    assert "55.78870, 49.12210" in shifts and "не отмечено" in shifts  # the second shift has no point
    csv = admin.get(ADMIN_URL + "/timesheet/?start=2026-03-01&end=2026-03-07&format=csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines == ["Сотрудник;Дата;Часы;Приход;Уход;Смена открыта",
                     "Никитин Алексей;2026-03-02;9,50;09:00;19:00;",
                     "Никитин Алексей;2026-03-03;0,00;09:00;;да"]
    reversed_period = page(admin, "/timesheet/?start=2026-03-07&end=2026-03-01")
    assert "даты переставлены" in reversed_period and "9.50" in reversed_period


def test_the_menu_follows_the_manifest(state: PluginState, admin: FlaskClient) -> None:
    html = admin.get("/admin/").get_data(as_text=True)
    links = re.findall(r'href="(/admin/crm-plugin[^"]*)"[^>]*>\s*([^<]+?)\s*<', html)
    assert [name for _, name in links] == [entry.name for entry in state.manifest.admin_menu]
    assert "Табель" in dict((name, href) for href, name in links)
    for path in ("/", "/bots/", "/employees/", "/access/", "/messages/", "/timesheet/"):
        assert ADMIN_URL + path in {href for href, _ in links}


def test_english_when_the_host_picks_it_with_flask_babel(app: Flask, admin: FlaskClient) -> None:
    from flask_babel import Babel

    Babel(app, locale_selector=lambda: "en")
    html = page(admin, "/bots/new/")
    assert "Check" in html and "Bot token" in html and "Проверить" not in html
    assert "Messages today" in page(admin, "/")


def test_every_admin_text_has_an_english_translation() -> None:
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1]
    admin = root / "crm_plugin" / "admin"
    with (admin / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {"t": None, "lazy_t": None, "N_": None}
    used = {message for _, _, message, _, _ in extract_from_dir(str(root), method_map, options_map, keywords)}
    mo = admin / "translations" / "en" / "LC_MESSAGES" / "crm_plugin_admin.mo"
    with mo.open("rb") as fh:
        english = {m.id: m.string for m in read_mo(fh) if m.id}
    assert sorted(m for m in used if not english.get(m)) == []
    with mo.with_suffix(".po").open("rb") as fh:  # the shipped .mo is compiled from the .po as it is now
        source = {m.id: m.string for m in read_po(fh) if m.id and not m.fuzzy}
    assert english == source
