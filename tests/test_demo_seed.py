"""The demo data: the promised counts, deterministic, seeded once; and the demo CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from crm_plugin import get_state, host
from crm_plugin.demo import create_app
from crm_plugin.demo.models import Job, JobFile, Lead, Order, OrderStatus, User, db
from crm_plugin.demo.seed import seed
from crm_plugin.phones import normalise_phone
from tests.conftest import make_test_app

NOW = datetime(2026, 3, 15, 9, 30, tzinfo=timezone.utc)


def snapshot(app: Flask) -> list[tuple[object, ...]]:
    with app.app_context():
        return [(o.number, o.client.name, o.amount, o.status, o.created_at, j.address, j.latitude, j.scheduled_at,
                 j.status, j.assignee_id) for o in db.session.scalars(select(Order).order_by(Order.id))
                for j in o.jobs]


def test_default_seed_keeps_its_promises(app: Flask) -> None:
    summary = seed(app, now=NOW)
    assert not summary.skipped and summary.admin_login == "admin" and summary.admin_password == "admin"
    assert (summary.orders, summary.measurements, summary.employees, summary.inactive) == (200, 200, 12, 1)
    assert 0 < summary.installations < summary.measurements and summary.files > 0 and summary.leads >= 5
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        orders = db.session.scalars(select(Order)).all()
        jobs = db.session.scalars(select(Job)).all()
        admin = next(u for u in users if u.login == "admin")
        active = [u for u in users if u.active]
        assert admin.is_admin and admin.check_password("admin")
        assert sum(host.Role.MEASURER in u.roles for u in active) >= 4
        assert sum(host.Role.INSTALLER in u.roles for u in active) >= 4
        assert any(host.Role.MANAGER in u.roles for u in active)
        assert all(normalise_phone(u.phone) and u.phone.startswith("+7") for u in users if u.phone)
        assert all(re.fullmatch(r"З-\d{4}-\d{4}", o.number) for o in orders)
        assert all(o.created_at <= NOW for o in orders)
        measurements = [j for j in jobs if j.kind is host.JobKind.MEASUREMENT]
        assert all(NOW - timedelta(days=61) <= j.scheduled_at <= NOW + timedelta(days=15) for j in measurements)
        assert any(j.scheduled_at > NOW for j in measurements) and any(j.scheduled_at < NOW for j in measurements)
        assert all(j.address.startswith("Казань, ") for j in jobs)
        located = sum(j.latitude is not None for j in measurements) / len(measurements)
        assert 0.75 <= located <= 0.95
        # installations only for measured orders, after the measurement
        for install in (j for j in jobs if j.kind is host.JobKind.INSTALLATION):
            measured = next(j for j in install.order.jobs if j.kind is host.JobKind.MEASUREMENT)
            assert measured.status is host.JobStatus.MEASURED and install.scheduled_at > measured.scheduled_at
        done = [j for j in jobs if j.status in host.DONE_STATUSES]
        assert done and all(j.done_at is not None and j.done_at <= NOW and j.assignee_id for j in done)
        assert {o.status for o in orders} >= {OrderStatus.MEASUREMENT, OrderStatus.CALCULATION,
                                             OrderStatus.INSTALLATION, OrderStatus.DONE, OrderStatus.CANCELLED}
        assert sum(j.manager_comment is not None for j in measurements) > len(measurements) // 2
        kinds = {f.kind for f in db.session.scalars(select(JobFile))}
        assert kinds == set(host.FileKind)
        photo = db.session.scalars(select(JobFile)).first()
        assert photo is not None and photo.data.startswith(b"\x89PNG") and photo.size == len(photo.data)
        assert db.session.scalar(select(Lead).where(Lead.external_id.is_not(None))) is not None


def test_seed_is_deterministic(tmp_path: Path) -> None:
    apps = [make_test_app(f"sqlite:///{tmp_path / f'{i}.db'}") for i in range(3)]
    try:
        for app, random_seed in zip(apps, (3, 3, 4)):
            seed(app, random_seed=random_seed, orders=25, now=NOW)
        first, same, other = (snapshot(app) for app in apps)
        assert first == same and first != other
    finally:
        for app in apps:
            get_state(app).db.dispose()


def test_seed_runs_once(app: Flask) -> None:
    first = seed(app, orders=15, now=NOW)
    again = seed(app, orders=15, random_seed=99, now=NOW)
    assert again.skipped and not first.skipped
    assert (again.orders, again.users, again.files) == (first.orders, first.users, first.files) == (15, 13, first.files)


def test_cli_seed_says_what_it_did(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", "seed", "--orders", "12"])
    assert result.exit_code == 0, result.output
    assert "12 orders" in result.output and "admin / admin" in result.output
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0 and "nothing was added" in again.output and "12 orders" in again.output


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}",
                      "CRM_PLUGIN_WORKER": "external"})
    try:
        result = app.test_cli_runner().invoke(args=["demo", "serve", "--port", "0"])
    finally:
        get_state(app).db.dispose()
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "crm-plugin db upgrade" in lines[0] and "Traceback" not in result.output


def test_the_app_factory_reads_plugin_settings_from_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLASK_CRM_PLUGIN_LANGUAGE", "en")
    monkeypatch.setenv("FLASK_DEMO_TIMEZONE", "Asia/Yekaterinburg")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'env.db'}", "CRM_PLUGIN_WORKER": "external"})
    try:
        assert get_state(app).settings.language == "en" and app.config["DEMO_TIMEZONE"] == "Asia/Yekaterinburg"
    finally:
        get_state(app).db.dispose()


def test_seed_feeds_the_statistics(app: Flask) -> None:
    """Every order has its manager, a cancelled visit the time it was cancelled, and leads come from several
    sources over two months: the demo's metrics have something to show by manager, by day and by source."""
    seed(app, orders=80, now=NOW)
    with app.app_context():
        orders = db.session.scalars(select(Order)).all()
        jobs = db.session.scalars(select(Job)).all()
        leads = db.session.scalars(select(Lead)).all()
        managers = {u.id for u in db.session.scalars(select(User)) if host.Role.MANAGER in u.roles}
    assert all(o.manager_id in managers for o in orders)
    cancelled = [j for j in jobs if j.status is host.JobStatus.CANCELLED]
    assert cancelled and all(j.cancelled_at is not None and j.order.created_at <= j.cancelled_at <= NOW
                             for j in cancelled)
    assert all(j.cancelled_at is None for j in jobs if j.status is not host.JobStatus.CANCELLED)
    assert len({lead.source for lead in leads}) >= 4
    assert min(lead.created_at for lead in leads) < NOW - timedelta(days=45)
