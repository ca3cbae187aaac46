"""The demo CRM's pages: login, the admin with the plugin's tab, planning jobs and the host events they send."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from blinker import Signal
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crm_plugin import host
from crm_plugin.demo.models import Client, Job, Lead, Order, OrderStatus, User, db
from crm_plugin.demo.seed import seed
from tests.conftest import make_test_app


@pytest.fixture
def staff(app: Flask) -> dict[str, int]:
    seed(app, orders=0)
    with app.app_context():
        return {u.login: u.id for u in db.session.scalars(select(User))}


def login(client: FlaskClient, user: str, password: str = "demo") -> Any:
    return client.post("/login", data={"login": user, "password": password})


@contextmanager
def received(signal: Signal) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """What the plugin would receive from the host: (sender, kwargs) per send."""
    calls: list[tuple[Any, dict[str, Any]]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append((sender, kwargs))

    with signal.connected_to(receiver):
        yield calls


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def measurement_form(**override: Any) -> dict[str, Any]:
    return {"client_id": 0, "client_name": "Сафина Лилия Ринатовна", "client_phone": "8 (917) 300-44-55",
            "address": "Казань, ул. Баумана, д. 19, кв. 7", "latitude": "55.7887", "longitude": "49.1186",
            "scheduled_at": "2026-03-10T10:00", "assignee_id": 0, "manager_comment": "Три окна, 5 этаж",
            "amount": "", **override}


# login


def test_login_lands_on_the_orders(client: FlaskClient, staff: dict[str, int]) -> None:
    assert client.get("/orders").status_code == 302  # a stranger is sent to log in
    response = login(client, "gareeva")
    assert response.status_code == 302 and response.headers["Location"] == "/orders"
    page = client.get("/orders").get_data(as_text=True)
    assert "Гареева Алсу Ринатовна" in page and "Заказы" in page


@pytest.mark.parametrize("user, password", [("gareeva", "wrong"), ("nobody", "demo"), ("zakirov", "demo")])
def test_wrong_password_unknown_or_inactive_user_is_refused(client: FlaskClient, staff: dict[str, int],
                                                             user: str, password: str) -> None:
    response = login(client, user, password)
    assert response.status_code == 401
    assert ("Неверный логин или пароль" in response.get_data(as_text=True)
            or "Учётная запись отключена" in response.get_data(as_text=True))
    assert client.get("/orders").status_code == 302  # still not logged in


def test_login_refuses_an_outside_next(client: FlaskClient, staff: dict[str, int]) -> None:
    response = client.post("/login?next=https://evil.example/x", data={"login": "gareeva", "password": "demo"})
    assert response.headers["Location"] == "/orders"


def test_logout(client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "gareeva")
    client.post("/logout")
    assert client.get("/orders").status_code == 302


# the admin and the plugin's tab


def test_admin_sees_the_plugin_tab(client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "admin", "admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Боты, Пользователи" in page and "/admin/crm-plugin/" in page
    assert "Заказы" in page and "Лиды" in page  # the host's own tables beside it
    with client.application.test_request_context():
        from flask import url_for

        dashboard = url_for("crm_plugin_dashboard.index")
    assert client.get(dashboard).status_code == 200
    assert client.get("/admin/crm_orders/").status_code == 200
    assert 'id="nav-admin"' in client.get("/orders").get_data(as_text=True)


def test_non_admin_is_kept_out_of_the_admin(client: FlaskClient, staff: dict[str, int]) -> None:
    assert client.get("/admin/").status_code == 302  # not logged in: to the login page
    login(client, "gareeva")
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/crm_orders/").status_code == 403
    assert 'id="nav-admin"' not in client.get("/orders").get_data(as_text=True)


# planning field work


def test_new_measurement_request_reaches_the_plugin(app: Flask, client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "gareeva")
    with received(host.measurement_requested) as calls:
        response = client.post("/measurements/new", data=measurement_form(assignee_id=staff["volkov"]))
    assert response.status_code == 302
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert calls == [(app, {"job_id": job.id})]
        assert job.kind is host.JobKind.MEASUREMENT and job.status is host.JobStatus.SCHEDULED
        assert job.assignee_id == staff["volkov"] and job.latitude == pytest.approx(55.7887)
        # 10:00 typed in Казань is 07:00 UTC
        assert job.scheduled_at == datetime(2026, 3, 10, 7, 0, tzinfo=timezone.utc)
        assert job.order.client.name == "Сафина Лилия Ринатовна" and job.order.manager_id == staff["gareeva"]
        assert job.order.number.startswith("З-") and job.order.status is OrderStatus.MEASUREMENT
        order_id = job.order_id
    assert response.headers["Location"] == f"/orders/{order_id}"
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Волков Сергей Андреевич" in page and "Три окна, 5 этаж" in page and "10.03.2026 10:00" in page


def test_measurement_for_an_existing_client_without_coordinates(app: Flask, client: FlaskClient,
                                                                staff: dict[str, int]) -> None:
    with app.app_context():
        known = Client(name="Петров Олег", phones_text="+7 917 111-22-33")
        db.session.add(known)
        db.session.commit()
        known_id = known.id
    login(client, "gareeva")
    with received(host.measurement_requested) as calls:
        client.post("/measurements/new", data=measurement_form(client_id=known_id, client_name="", latitude="",
                                                               longitude="", scheduled_at=""))
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert job.order.client_id == known_id and job.latitude is None and job.scheduled_at is None
        assert job.status is host.JobStatus.NEW and job.assignee_id is None
    assert count(app, Client) == 1 and len(calls) == 1


@pytest.mark.parametrize("override, message", [
    ({"address": ""}, "Укажите адрес"),
    ({"longitude": ""}, "Укажите обе координаты или ни одной"),
    ({"latitude": "123"}, "Широта от -90 до 90"),
    ({"client_name": ""}, "Выберите клиента или впишите имя нового"),
    ({"client_phone": "позвонить"}, "Телефон в виде +7 999 123-45-67"),
])
def test_bad_measurement_form_says_what_to_fix(app: Flask, client: FlaskClient, staff: dict[str, int],
                                               override: dict[str, str], message: str) -> None:
    login(client, "gareeva")
    with received(host.measurement_requested) as calls:
        response = client.post("/measurements/new", data=measurement_form(**override))
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert calls == [] and count(app, Job) == 0 and count(app, Order) == 0


def test_field_staff_cannot_plan_jobs(app: Flask, client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "volkov")
    assert client.get("/orders").status_code == 200
    assert client.post("/measurements/new", data=measurement_form()).status_code == 403
    assert count(app, Job) == 0


def _measured_order(app: Flask, client: FlaskClient, staff: dict[str, int]) -> tuple[int, int]:
    login(client, "gareeva")
    client.post("/measurements/new", data=measurement_form(assignee_id=staff["volkov"]))
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        job.status, job.order.status = host.JobStatus.MEASURED, OrderStatus.CALCULATION
        db.session.commit()
        return job.order_id, job.id


def test_installation_reschedule_reassign_cancel_send_their_events(app: Flask, client: FlaskClient,
                                                                   staff: dict[str, int]) -> None:
    order_id, _ = _measured_order(app, client, staff)
    assert "Запланировать монтаж" in client.get(f"/orders/{order_id}").get_data(as_text=True)
    with received(host.installation_scheduled) as scheduled:
        client.post(f"/orders/{order_id}/installation", data={
            "address": "Казань, ул. Баумана, д. 19, кв. 7", "scheduled_at": "2026-03-20T09:00",
            "assignee_id": staff["nikitin"], "manager_comment": "Изделия на складе"})
    with app.app_context():
        install = db.session.scalars(select(Job).where(Job.kind == host.JobKind.INSTALLATION)).one()
        install_id = install.id
        assert install.order.status is OrderStatus.INSTALLATION
    assert scheduled == [(app, {"job_id": install_id})]

    edit = {"address": "Казань, ул. Баумана, д. 19, кв. 7", "scheduled_at": "2026-03-21T09:00",
            "assignee_id": staff["nikitin"], "manager_comment": "Изделия на складе"}
    with received(host.job_changed) as changed:
        client.post(f"/jobs/{install_id}/edit", data=edit)
        client.post(f"/jobs/{install_id}/edit", data={**edit, "assignee_id": staff["galiev"]})
        client.post(f"/jobs/{install_id}/edit", data={**edit, "assignee_id": staff["galiev"], "manager_comment": "Ок"})
    assert [kw for _, kw in changed] == [{"job_id": install_id, "change": "rescheduled"},
                                         {"job_id": install_id, "change": "reassigned"},
                                         {"job_id": install_id, "change": "updated"}]

    with received(host.job_cancelled) as cancelled:
        client.post(f"/jobs/{install_id}/cancel")
        client.post(f"/jobs/{install_id}/cancel")  # already cancelled: no second event
    assert cancelled == [(app, {"job_id": install_id})]
    with app.app_context():
        job = db.session.get(Job, install_id)
        assert job.status is host.JobStatus.CANCELLED and job.assignee_id == staff["galiev"]
        assert job.scheduled_at == datetime(2026, 3, 21, 6, 0, tzinfo=timezone.utc)


def test_closed_jobs_stay_closed(app: Flask, client: FlaskClient,
                                                               staff: dict[str, int]) -> None:
    _, measurement_id = _measured_order(app, client, staff)
    response = client.get(f"/jobs/{measurement_id}/edit")
    assert response.status_code == 302  # measured: nothing to plan any more
    with received(host.job_changed) as changed:
        client.post(f"/jobs/{measurement_id}/edit", data=measurement_form())
    assert changed == []


def test_lead_from_the_ui_reaches_the_plugin(app: Flask, client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "gareeva")
    before = count(app, Lead)
    with received(host.lead_created) as calls:
        assert client.post("/leads", data={"source": "телефон", "name": "Марат", "phone": "+7 917 000-00-01",
                                           "text": "Замер на даче"}).status_code == 302
        assert client.post("/leads", data={"source": "телефон", "text": ""}).status_code == 400
    with app.app_context():
        lead = db.session.scalars(select(Lead).order_by(Lead.id.desc())).first()
    assert count(app, Lead) == before + 1 and calls == [(app, {"lead_id": lead.id})]
    assert "Замер на даче" in client.get("/leads").get_data(as_text=True)


def test_orders_list_search_and_filter(app: Flask, client: FlaskClient, staff: dict[str, int]) -> None:
    login(client, "gareeva")
    client.post("/measurements/new", data=measurement_form())
    client.post("/measurements/new", data=measurement_form(client_name="Ахметов Булат"))
    page = client.get("/orders?q=Ахметов").get_data(as_text=True)
    assert "Ахметов Булат" in page and "Сафина" not in page
    assert "Заказов не найдено" in client.get("/orders?status=done").get_data(as_text=True)


def test_csrf_token_is_required_when_enabled(database_url: str) -> None:
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    try:
        seed(app, orders=0)
        client = app.test_client()
        assert client.post("/login", data={"login": "gareeva", "password": "demo"}).status_code == 400
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        assert client.post("/login", data={"login": "gareeva", "password": "demo", "csrf_token": token}).status_code == 302
        with received(host.lead_created) as calls:
            assert client.post("/leads", data={"source": "сайт", "text": "Без токена"}).status_code == 400
        assert calls == []
    finally:
        from crm_plugin import get_state

        get_state(app).db.dispose()


def test_host_admin_forms_save_under_csrf_protection(database_url: str) -> None:
    """CSRFProtect and Flask-Admin together: the edit form carries one token, its own, and saving works."""
    import re

    from crm_plugin.demo.models import Client, db

    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    try:
        seed(app, orders=1)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/login", data={"login": "admin", "password": "admin", "csrf_token": token})
        form = client.get("/admin/crm_clients/edit/?id=1").get_data(as_text=True)
        tokens = re.findall(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', form)
        assert len(tokens) == 1
        saved = client.post("/admin/crm_clients/edit/?id=1",
                            data={"csrf_token": tokens[0], "name": "Новое Имя Клиента", "phones_text": "", "address": ""})
        assert saved.status_code == 302
        with app.app_context():
            assert db.session.get(Client, 1).name == "Новое Имя Клиента"
    finally:
        from crm_plugin import get_state

        get_state(app).db.dispose()


def test_plugin_admin_forms_save_under_the_demos_csrf_protection(database_url: str) -> None:
    """The demo runs CSRFProtect on every POST: the plugin's admin forms pass it with their one token, and a
    POST without it is refused by CSRFProtect before the plugin sees it."""
    import re

    from sqlalchemy import select as select_rows

    from crm_plugin import get_state
    from crm_plugin.core.models import AccessGrant

    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    try:
        seed(app, orders=0)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/login", data={"login": "admin", "password": "admin", "csrf_token": token})
        form = client.get("/admin/crm-plugin/access/new/").get_data(as_text=True)
        tokens = re.findall(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', form)
        admin_id = re.findall(r'<option[^>]*value="(\d+)"', form)[0]
        assert len(tokens) == 1
        assert client.post("/admin/crm-plugin/access/new/", data={"crm_user_id": admin_id}).status_code == 400
        saved = client.post("/admin/crm-plugin/access/new/", data={"csrf_token": tokens[0], "crm_user_id": admin_id})
        assert saved.status_code == 302
        with get_state(app).db.session() as session:
            assert list(session.scalars(select_rows(AccessGrant.crm_user_id))) == [int(admin_id)]
    finally:
        get_state(app).db.dispose()


def test_the_wsgi_entry_point_freezes_what_the_app_built_at_start(tmp_path: Path) -> None:
    """Python's full collections stop walking the objects the app built at start (their pause stalled every
    request thread for 60-80 ms); a fresh interpreter, since freezing is for the whole process."""
    code = "import gc; from crm_plugin.demo.wsgi import app; print(gc.get_freeze_count())"
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'crm.db'}",
           "FLASK_SECRET_KEY": "test", "FLASK_CRM_PLUGIN_WORKER": "external"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) > 50_000
