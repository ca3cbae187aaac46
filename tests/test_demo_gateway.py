"""DemoGateway honours the host contract end to end, on the demo's real tables."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from crm_plugin import CrmGateway, PluginState, get_state, host
from crm_plugin.demo.gateway import DemoGateway
from crm_plugin.demo.models import Client, Job, Lead, LoginCode, Order, OrderStatus, User, db
from crm_plugin.demo.seed import seed
from crm_plugin.extension import stop
from tests.conftest import make_test_app

UTC = timezone.utc
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_in_berlin(database_url: str) -> Iterator[Flask]:
    """The demo CRM of a company in Berlin (a zone with daylight saving), the plugin told the same zone."""
    app = make_test_app(database_url, DEMO_TIMEZONE="Europe/Berlin", CRM_PLUGIN_TIMEZONE="Europe/Berlin")
    yield app
    stop(app)


@pytest.fixture
def staff(app: Flask) -> dict[str, int]:
    """The seeded staff (no orders): login -> id."""
    seed(app, orders=0)
    with app.app_context():
        return {u.login: u.id for u in db.session.scalars(select(User))}


def add_job(app: Flask, *, kind: host.JobKind = host.JobKind.MEASUREMENT, at: datetime | None = MONDAY,
            assignee_id: int | None = None, amount: int = 50_000, created_at: datetime | None = None,
            order_status: OrderStatus = OrderStatus.MEASUREMENT) -> int:
    with app.app_context():
        client = Client(name="Иванов Пётр", phones_text="+7 917 000-11-22", address="Казань, ул. Баумана, д. 5")
        order = Order(number=f"З-2026-{db.session.query(Order).count() + 1:04d}", client=client, amount=Decimal(amount),
                      status=order_status, created_at=created_at or MONDAY - timedelta(days=3))
        job = Job(kind=kind, order=order, scheduled_at=at, address=client.address or "", latitude=55.79,
                  longitude=49.12, manager_comment="Домофон 15", assignee_id=assignee_id,
                  status=host.JobStatus.SCHEDULED if assignee_id else host.JobStatus.NEW)
        db.session.add(job)
        db.session.commit()
        return job.id


def login(client: FlaskClient, user: str, password: str = "demo") -> None:
    assert client.post("/login", data={"login": user, "password": password}).status_code == 302


def test_gateway_implements_the_contract(state: PluginState) -> None:
    assert isinstance(state.gateway, DemoGateway)
    assert isinstance(state.gateway, CrmGateway)


@pytest.mark.parametrize("identity", ["khairullin", "KHAIRULLIN", "Khairullin@Okna-Kazan.example",
                                      "+7 927 401-22-11", "8 (927) 4012211", "79274012211"])
def test_find_users_by_every_identity_form(app: Flask, state: PluginState, staff: dict[str, int], identity: str) -> None:
    with app.app_context():
        found = state.gateway.find_users(identity)
    assert [u.id for u in found] == [staff["khairullin"]]
    assert found[0].roles == frozenset({host.Role.MEASURER}) and found[0].active


def test_find_users_unknown_and_blank(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    with app.app_context():
        assert state.gateway.find_users("nobody") == []
        assert state.gateway.find_users("   ") == []
        assert state.gateway.find_users("+7 900 000-00-00") == []


def test_users_by_role_and_activity(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    gw = state.gateway
    with app.app_context():
        active_measurers = {u.login for u in gw.list_users(role=host.Role.MEASURER)}
        all_measurers = {u.login for u in gw.list_users(active_only=False, role=host.Role.MEASURER)}
        admins = gw.list_users(role=host.Role.ADMIN)
        zakirov = gw.get_user(staff["zakirov"])
        assert gw.get_user(10_000) is None
    assert active_measurers == {"khairullin", "volkov", "sabirova", "orlov"}
    assert all_measurers == active_measurers | {"zakirov"}
    assert [a.login for a in admins] == ["admin"]
    assert zakirov is not None and not zakirov.active


def test_list_jobs_filters_by_date_assignee_kind_status(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    me, other = staff["volkov"], staff["sabirova"]
    mine_monday = add_job(app, at=MONDAY, assignee_id=me)
    mine_tuesday = add_job(app, at=MONDAY + timedelta(days=1), assignee_id=me)
    others_monday = add_job(app, at=MONDAY + timedelta(hours=3), assignee_id=other)
    free_monday = add_job(app, at=MONDAY + timedelta(hours=5))
    install = add_job(app, kind=host.JobKind.INSTALLATION, at=MONDAY + timedelta(hours=1), assignee_id=me)
    day = dict(scheduled_from=MONDAY.replace(hour=0), scheduled_to=MONDAY.replace(hour=0) + timedelta(days=1))
    with app.app_context():
        ids = lambda **q: [j.id for j in state.gateway.list_jobs(host.JobQuery(**q))]  # noqa: E731
        assert ids(assignee_id=me, **day) == [mine_monday, install]  # by time
        assert ids(assignee_id=me) == [mine_monday, install, mine_tuesday]
        assert ids(unassigned_only=True) == [free_monday]
        assert ids(kind=host.JobKind.MEASUREMENT, **day) == [mine_monday, others_monday, free_monday]
        assert ids(statuses=frozenset({host.JobStatus.NEW})) == [free_monday]
        job = state.gateway.get_job(others_monday)
    assert job is not None and job.assignee_id == other and job.order_number.startswith("З-2026-")
    assert job.client.phones == ("+7 917 000-11-22",) and job.latitude == pytest.approx(55.79)
    assert job.scheduled_at == MONDAY + timedelta(hours=3) and job.scheduled_at.tzinfo is not None


def test_assign_job_only_once_under_a_race(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    job_id = add_job(app)
    racers = [staff[login] for login in ("khairullin", "volkov", "sabirova", "orlov")]
    start = threading.Barrier(len(racers))
    results: dict[int, bool] = {}

    def take(user_id: int) -> None:
        with app.app_context():
            start.wait()
            results[user_id] = state.gateway.assign_job(job_id, user_id)

    threads = [threading.Thread(target=take, args=(user_id,)) for user_id in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    winners = [user_id for user_id, won in results.items() if won]
    assert len(results) == len(racers) and len(winners) == 1
    with app.app_context():
        job = state.gateway.get_job(job_id)
        assert job is not None and job.assignee_id == winners[0] and job.status is host.JobStatus.SCHEDULED
        assert state.gateway.assign_job(job_id, racers[0]) is False  # taken stays taken


def test_cancelled_job_cannot_be_taken(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    job_id = add_job(app)
    with app.app_context():
        db.session.get(Job, job_id).status = host.JobStatus.CANCELLED
        db.session.commit()
        assert state.gateway.assign_job(job_id, staff["volkov"]) is False


def test_files_round_trip_and_show_in_the_crm(app: Flask, client: FlaskClient, state: PluginState,
                                              staff: dict[str, int]) -> None:
    job_id = add_job(app, assignee_id=staff["volkov"])
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    sheet = b"%PDF-1.4 sheet"
    with app.app_context():
        gw = state.gateway
        order_id = gw.get_job(job_id).order_id  # type: ignore[union-attr]
        photo_id = gw.attach_file(job_id, host.NewFile(host.FileKind.OBJECT_PHOTO, "okno.png", "image/png", photo),
                                  staff["volkov"])
        sheet_id = gw.attach_file(job_id, host.NewFile(host.FileKind.MEASUREMENT_SHEET, "list.pdf", "application/pdf",
                                                       sheet), staff["volkov"])
        files = gw.list_files(order_id)
        sheets = gw.list_files(order_id, frozenset({host.FileKind.MEASUREMENT_SHEET}))
        assert gw.read_file(photo_id) == photo and gw.read_file(sheet_id) == sheet
        with pytest.raises(LookupError):
            gw.read_file(10_000)
    assert [(f.id, f.kind, f.size, f.job_id) for f in files] == [
        (photo_id, host.FileKind.OBJECT_PHOTO, len(photo), job_id), (sheet_id, host.FileKind.MEASUREMENT_SHEET, len(sheet), job_id)]
    assert [f.id for f in sheets] == [sheet_id]

    login(client, "gareeva")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "okno.png" in page and "list.pdf" in page and f'src="/files/{photo_id}"' in page
    download = client.get(f"/files/{sheet_id}?download=1")
    assert download.data == sheet and "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"/files/{photo_id}").mimetype == "image/png"


def test_status_set_by_the_bot_shows_in_the_crm(app: Flask, client: FlaskClient, state: PluginState,
                                                staff: dict[str, int]) -> None:
    job_id = add_job(app, assignee_id=staff["volkov"])
    with app.app_context():
        state.gateway.set_job_status(job_id, host.JobStatus.MEASURED, staff["volkov"])
        job = db.session.get(Job, job_id)
        assert job.done_at is not None and job.order.status is OrderStatus.CALCULATION
        order_id = job.order_id
        with pytest.raises(LookupError):
            state.gateway.set_job_status(10_000, host.JobStatus.MEASURED, staff["volkov"])
    login(client, "gareeva")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Замер выполнен" in page and "Расчёт" in page


def test_create_lead_is_idempotent_per_external_id(app: Flask, client: FlaskClient, state: PluginState,
                                                   staff: dict[str, int]) -> None:
    draft = host.LeadDraft(source="slack:#sales", text="Нужно остеклить балкон", name="Рустам",
                           phone="+7 917 123-45-67", external_id="Ev123")
    with app.app_context():
        first = state.gateway.create_lead(draft)
        again = state.gateway.create_lead(draft)
        other = state.gateway.create_lead(host.LeadDraft(source="vk:club1", text="Москитная сетка?"))
        rows = db.session.scalars(select(Lead).where(Lead.id.in_([first, other]))).all()
    assert first == again and other != first and len(rows) == 2
    login(client, "gareeva")
    assert "Нужно остеклить балкон" in client.get("/leads").get_data(as_text=True)


def test_a_leads_url_is_its_row_on_the_leads_page_at_the_public_url(app: Flask, state: PluginState) -> None:
    with app.app_context():
        lead_id = state.gateway.create_lead(host.LeadDraft(source="vk:club1", text="Окна"))
        assert state.gateway.get_lead(lead_id).url is None  # type: ignore[union-attr] - no public URL: no link
        app.config["CRM_PLUGIN_PUBLIC_URL"] = "https://crm.example/"
        assert state.gateway.get_lead(lead_id).url == f"https://crm.example/leads#lead-{lead_id}"  # type: ignore[union-attr]


def test_login_code_lands_in_the_crm_inbox(app: Flask, client: FlaskClient, state: PluginState,
                                           staff: dict[str, int]) -> None:
    with app.app_context():
        state.gateway.send_login_code(staff["volkov"], "482913")
        assert db.session.scalar(select(LoginCode.code).where(LoginCode.user_id == staff["volkov"])) == "482913"
    login(client, "volkov")
    assert "482913" in client.get("/codes").get_data(as_text=True)
    client.post("/logout")
    login(client, "sabirova")
    assert "482913" not in client.get("/codes").get_data(as_text=True)  # someone else's inbox


def test_current_user_follows_the_login(app: Flask, client: FlaskClient, state: PluginState,
                                        staff: dict[str, int]) -> None:
    with app.app_context():
        assert state.gateway.current_user() is None  # no request: a worker thread
    with app.test_request_context("/"):
        assert state.gateway.current_user() is None
    login(client, "admin", "admin")
    with client:
        client.get("/orders")
        user = state.gateway.current_user()
    assert user is not None and user.login == "admin" and user.is_admin


def test_metric_values_by_local_day(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    # 22:30 UTC on 2 March is 01:30 on 3 March in Казань (UTC+3): it counts for the 3rd.
    add_job(app, created_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), amount=100_000)
    add_job(app, created_at=datetime(2026, 3, 2, 22, 30, tzinfo=UTC), amount=40_000)
    add_job(app, created_at=datetime(2026, 3, 4, 12, 0, tzinfo=UTC), amount=7_000, order_status=OrderStatus.CANCELLED)
    add_job(app, created_at=datetime(2026, 3, 9, 12, 0, tzinfo=UTC), amount=1_000_000)  # outside the period
    done = add_job(app, assignee_id=staff["volkov"], created_at=datetime(2026, 3, 1, tzinfo=UTC))
    with app.app_context():
        state.gateway.set_job_status(done, host.JobStatus.MEASURED, staff["volkov"])
        done_day = db.session.get(Job, done).done_at.astimezone(timezone(timedelta(hours=3))).date()
        first, last = date(2026, 3, 1), date(2026, 3, 5)
        orders = state.gateway.metric_values("new_orders", first, last)
        revenue = state.gateway.metric_values("revenue", first, last)
        average = state.gateway.metric_values("average_order", first, last)
        rate = state.gateway.metric_values("cancel_rate", first, last)
        measured = state.gateway.metric_values("measurements_done", done_day, done_day, host.Breakdown.EMPLOYEE)
        installed = state.gateway.metric_values("installations_done", start=done_day, end=done_day)
    assert [p.day for p in orders.points] == [date(2026, 3, d) for d in range(1, 6)]
    assert orders.by_day == {date(2026, 3, 1): 1, date(2026, 3, 2): 1, date(2026, 3, 3): 1,
                             date(2026, 3, 4): 1, date(2026, 3, 5): 0}
    assert orders.total == 4
    assert revenue.by_day[date(2026, 3, 2)] == 100_000 and revenue.by_day[date(2026, 3, 3)] == 40_000
    assert revenue.total == 100_000 + 40_000 + 50_000  # the cancelled order brings nothing
    assert average.total == pytest.approx(190_000 / 3)  # over the orders, not a mean of the days
    assert [(p.value, p.weight) for p in average.points] == [(50_000, 1), (100_000, 1), (40_000, 1), (0, 0), (0, 0)]
    assert rate.total == pytest.approx(25) and rate.by_day[date(2026, 3, 4)] == 100  # 1 of 4 orders cancelled
    assert measured.total == 1 and installed.total == 0
    assert [(r.label, r.value, r.employee_id) for r in measured.rows] == [
        ("Волков Сергей Андреевич", 1, staff["volkov"])]


def test_a_day_of_the_clock_change_counts_in_local_days(app_in_berlin: Flask) -> None:
    """Berlin moves to summer time on 29 March 2026: that day has 23 hours. SQLite has no zone database, so
    the demo cuts the period at the change; PostgreSQL converts itself. Both give the same days."""
    for moment, amount in [(datetime(2026, 3, 28, 22, 59, tzinfo=UTC), 1),  # 23:59 on the 28th (UTC+1)
                           (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 10),  # 00:00 on the 29th
                           (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 100),  # 01:59, before the change
                           (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 1_000),  # 03:00 (UTC+2)
                           (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), 10_000),  # 23:59 on the 29th
                           (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), 100_000)]:  # 00:00 on the 30th
        add_job(app_in_berlin, created_at=moment, amount=amount)
    with app_in_berlin.app_context():
        revenue = get_state(app_in_berlin).gateway.metric_values("revenue", date(2026, 3, 27), date(2026, 3, 30))
    assert revenue.by_day == {date(2026, 3, 27): 0, date(2026, 3, 28): 1, date(2026, 3, 29): 11_110,
                              date(2026, 3, 30): 100_000}


def test_metric_values_match_the_seeded_rows(app: Flask, state: PluginState) -> None:
    now = datetime.now(UTC)
    seed(app, orders=60, now=now)
    start, end = (now - timedelta(days=60)).date(), now.date()
    since, until = now - timedelta(days=62), now + timedelta(days=2)
    keys = [spec.key for spec in state.gateway.metrics()]
    with app.app_context():
        series = {key: state.gateway.metric_values(key, start, end) for key in keys}
        # every row of the window, counted by its local day, as a manager would by hand
        local = lambda t: t.astimezone(timezone(timedelta(hours=3))).date()  # noqa: E731
        in_period = lambda t: t is not None and start <= local(t) <= end  # noqa: E731
        orders = [o for o in db.session.scalars(select(Order).where(Order.created_at.between(since, until)))
                  if in_period(o.created_at)]
        jobs = [j for j in db.session.scalars(select(Job)) if in_period(j.done_at)]
        cancelled = [j for j in db.session.scalars(select(Job)) if in_period(j.cancelled_at)]
        leads = [lead for lead in db.session.scalars(select(Lead)) if in_period(lead.created_at)]
    kept = [o for o in orders if o.status is not OrderStatus.CANCELLED]
    assert series["new_orders"].total == len(orders) > 0
    assert series["revenue"].total == float(sum(o.amount for o in kept))
    assert series["average_order"].total == pytest.approx(float(sum(o.amount for o in kept)) / len(kept))
    assert series["cancel_rate"].total == pytest.approx(100 * (len(orders) - len(kept)) / len(orders))
    assert series["measurements_done"].total == sum(j.status is host.JobStatus.MEASURED for j in jobs) > 0
    assert series["installations_done"].total == sum(j.status is host.JobStatus.INSTALLED for j in jobs)
    assert series["cancellations"].total == len(cancelled) > 0
    assert series["leads"].total == len(leads) > 0
    for s in series.values():
        assert len(s.points) == 61


def test_a_job_stamps_the_time_it_was_cancelled(app: Flask, state: PluginState, staff: dict[str, int]) -> None:
    job_id = add_job(app)
    with app.app_context():
        state.gateway.set_job_status(job_id, host.JobStatus.CANCELLED, staff["gareeva"])
        job = db.session.get(Job, job_id)
        assert job is not None and job.cancelled_at is not None
        assert abs(job.cancelled_at - datetime.now(UTC)) < timedelta(minutes=5)
        today = job.cancelled_at.astimezone(timezone(timedelta(hours=3))).date()
        assert state.gateway.metric_values("cancellations", today, today).total == 1
        job.status = host.JobStatus.NEW  # a manager reopens it in the CRM
        db.session.commit()
        assert job.cancelled_at is None


def test_crm_writes_inside_a_plugin_transaction_do_not_wait(app: Flask, state: PluginState,
                                                           staff: dict[str, int]) -> None:
    """A bot turn holds the plugin's write transaction while it asks the CRM to write (take a job, store a
    code); on SQLite the two must not share a file lock, or the CRM's write waits until it times out."""
    job_id = add_job(app)
    with app.app_context(), state.db.session() as session:
        session.execute(text("SELECT 1"))  # the turn's transaction has begun (BEGIN IMMEDIATE on SQLite)
        state.gateway.send_login_code(staff["volkov"], "111222")
        assert state.gateway.assign_job(job_id, staff["volkov"])
    with app.app_context():
        assert db.session.get(Job, job_id).assignee_id == staff["volkov"]


def test_sqlite_days_are_cut_where_the_zone_changes_its_offset() -> None:
    from zoneinfo import ZoneInfo

    from crm_plugin.demo.metrics import offset_pieces

    begin, finish = datetime(2026, 3, 26, 23, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)
    spring, autumn = datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert offset_pieces(ZoneInfo("Europe/Berlin"), begin, finish) == [
        (begin, spring, 60), (spring, autumn, 120), (autumn, finish, 60)]
    year = (datetime(2025, 12, 31, 21, tzinfo=UTC), datetime(2026, 12, 31, 21, tzinfo=UTC))
    assert offset_pieces(ZoneInfo("Europe/Moscow"), *year) == [(*year, 180)]
