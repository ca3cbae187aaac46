"""Demo data: an admin, a dozen employees, ~200 orders over the last 60 and the next 14 days with their
measurements and installations (each order with its manager), a few photos, and leads from several sources
over two months. The same random_seed (and moment) gives the same data; a database that already has users is
left alone."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..host import FileKind, JobKind, JobStatus, Role
from . import images, seed_data
from .models import Client, Job, JobFile, Lead, Order, OrderStatus, User, db, order_number, utcnow
from .timeutil import local_tz

ADMIN_LOGIN, ADMIN_PASSWORD = "admin", "admin"
EMPLOYEE_PASSWORD = "demo"
DEFAULT_ORDERS = 200
PHOTO_JOBS = 6  # measured and installed jobs that get pictures


@dataclass(frozen=True)
class SeedSummary:
    skipped: bool  # True: the database had data, nothing was added
    users: int
    employees: int  # everyone but the admin
    inactive: int
    clients: int
    orders: int
    measurements: int
    installations: int
    files: int
    leads: int
    admin_login: str = ADMIN_LOGIN
    admin_password: str = ADMIN_PASSWORD
    employee_password: str = EMPLOYEE_PASSWORD


def seed(app: Flask, *, random_seed: int = 7, orders: int = DEFAULT_ORDERS, now: datetime | None = None) -> SeedSummary:
    with app.app_context():
        if db.session.scalar(select(func.count()).select_from(User)):
            return _summary(skipped=True)
        rng = random.Random(random_seed)
        now = now or utcnow()
        staff = _staff()
        db.session.add_all(staff)
        jobs = _orders(rng, staff, orders, now)
        _files(rng, jobs)
        _leads(rng, now)
        db.session.commit()
        return _summary(skipped=False)


def _summary(*, skipped: bool) -> SeedSummary:
    def count(model: type, *where: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    return SeedSummary(
        skipped=skipped, users=count(User), employees=count(User, User.login != ADMIN_LOGIN),
        inactive=count(User, User.active.is_(False)), clients=count(Client), orders=count(Order),
        measurements=count(Job, Job.kind == JobKind.MEASUREMENT),
        installations=count(Job, Job.kind == JobKind.INSTALLATION), files=count(JobFile), leads=count(Lead))


def _staff() -> list[User]:
    admin = User(login=ADMIN_LOGIN, full_name="Администратор CRM", email=f"admin@{seed_data.EMAIL_DOMAIN}",
                 is_admin=True)
    admin.set_password(ADMIN_PASSWORD)
    employee_hash = generate_password_hash(EMPLOYEE_PASSWORD)  # one hash: hashing is slow on purpose
    staff = [admin]
    for login, full_name, roles, phone, active in seed_data.EMPLOYEES:
        user = User(login=login, full_name=full_name, phone=phone, email=f"{login}@{seed_data.EMAIL_DOMAIN}",
                    active=active, password_hash=employee_hash)
        user.roles = frozenset(roles)
        staff.append(user)
    return staff


def _person(rng: random.Random) -> str:
    male = rng.random() < 0.5
    surname = rng.choice(seed_data.SURNAMES)[0 if male else 1]
    first = rng.choice(seed_data.MALE_FIRST if male else seed_data.FEMALE_FIRST)
    patronymic = rng.choice(seed_data.MALE_PATRONYMICS if male else seed_data.FEMALE_PATRONYMICS)
    return f"{surname} {first} {patronymic}"


def _phone(rng: random.Random) -> str:
    return f"+7 9{rng.randint(0, 99):02d} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"


def _place(rng: random.Random) -> tuple[str, float | None, float | None]:
    street, lat, lon = rng.choice(seed_data.STREETS)
    address = f"Казань, {street}, д. {rng.randint(1, 120)}"
    if rng.random() < 0.7:
        address += f", кв. {rng.randint(1, 240)}"
    if rng.random() < 0.15:
        return address, None, None  # some addresses were never put on the map
    return address, round(lat + rng.uniform(-0.004, 0.004), 6), round(lon + rng.uniform(-0.006, 0.006), 6)


def _visit_time(rng: random.Random, day: datetime, earliest: int = 9, latest: int = 18) -> datetime:
    local = datetime.combine(day.date(), time(rng.randint(earliest, latest), rng.choice((0, 30))), tzinfo=local_tz())
    return local.astimezone(day.tzinfo)


def _orders(rng: random.Random, staff: list[User], count: int, now: datetime) -> list[Job]:
    managers = [u for u in staff if Role.MANAGER in u.roles]
    measurers = [u for u in staff if Role.MEASURER in u.roles and u.active]
    installers = [u for u in staff if Role.INSTALLER in u.roles and u.active]
    today = now.astimezone(local_tz())
    plans = sorted(
        (_visit_time(rng, today + timedelta(days=rng.randint(-60, 14))) for _ in range(count)))
    clients: list[Client] = []
    jobs: list[Job] = []
    sequence: dict[int, int] = {}
    for measured_at in plans:
        created = min(measured_at - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)),
                      now - timedelta(minutes=rng.randint(10, 600)))
        year = created.astimezone(local_tz()).year
        sequence[year] = sequence.get(year, 100) + 1  # the firm did not start with this data
        address, lat, lon = _place(rng)
        if clients and rng.random() < 0.12:
            client = rng.choice(clients)  # a returning client
        else:
            client = Client(name=_person(rng), phones_text=_phone(rng), address=address, created_at=created)
            clients.append(client)
        order = Order(number=order_number(year, sequence[year]), client=client, created_at=created,
                      amount=Decimal(rng.randrange(18_000, 260_000, 100)), manager=rng.choice(managers),
                      status=OrderStatus.MEASUREMENT)
        comment = rng.choice(seed_data.COMMENTS) if rng.random() < 0.7 else None
        measurement = Job(kind=JobKind.MEASUREMENT, order=order, scheduled_at=measured_at, address=address,
                          latitude=lat, longitude=lon, manager_comment=comment, updated_at=created)
        jobs.append(measurement)
        if measured_at < now:
            measurement.assignee = rng.choice(measurers)
            roll = rng.random()
            if roll < 0.82:
                _finish(rng, measurement, JobStatus.MEASURED, now)
                order.status = OrderStatus.CALCULATION
                if rng.random() < 0.75:
                    jobs.append(_installation(rng, order, measurement, installers, now))
            elif roll < 0.90:
                measurement.status, order.status = JobStatus.CANCELLED, OrderStatus.CANCELLED
                measurement.cancelled_at = created + (measured_at - created) / 2  # the client called it off
            else:
                measurement.status = JobStatus.SCHEDULED  # done but not marked yet
        elif rng.random() < 0.35:
            measurement.status = JobStatus.NEW  # waiting for a measurer to take it
        else:
            measurement.assignee, measurement.status = rng.choice(measurers), JobStatus.SCHEDULED
        db.session.add(order)
    return jobs


def _finish(rng: random.Random, job: Job, status: JobStatus, now: datetime) -> None:
    assert job.scheduled_at is not None
    job.status = status
    job.done_at = min(job.scheduled_at + timedelta(minutes=rng.randint(40, 150)), now)
    job.updated_at = job.done_at


def _installation(rng: random.Random, order: Order, measurement: Job, installers: list[User], now: datetime) -> Job:
    assert measurement.scheduled_at is not None
    when = _visit_time(rng, measurement.scheduled_at.astimezone(local_tz()) + timedelta(days=rng.randint(5, 18)),
                       latest=14)
    job = Job(kind=JobKind.INSTALLATION, order=order, scheduled_at=when, address=measurement.address,
              latitude=measurement.latitude, longitude=measurement.longitude,
              manager_comment="Монтаж по замеру, изделия на складе.", updated_at=measurement.updated_at)
    order.status = OrderStatus.INSTALLATION
    if when < now or rng.random() < 0.7:
        job.assignee, job.status = rng.choice(installers), JobStatus.SCHEDULED
    if when < now and rng.random() < 0.85:
        _finish(rng, job, JobStatus.INSTALLED, now)
        order.status = OrderStatus.DONE
    return job


def _files(rng: random.Random, jobs: list[Job]) -> None:
    walls = [(214, 196, 170), (190, 120, 90), (225, 225, 215), (160, 170, 180)]
    photos = [images.window_photo(wall) for wall in walls]
    sheet = images.measurement_sheet()
    measured = [j for j in jobs if j.status is JobStatus.MEASURED][-PHOTO_JOBS:]
    installed = [j for j in jobs if j.status is JobStatus.INSTALLED][-PHOTO_JOBS // 2:]
    for job in measured:
        _attach(job, FileKind.OBJECT_PHOTO, f"objekt-{job.order.number}.png", rng.choice(photos))
        _attach(job, FileKind.MEASUREMENT_SHEET, f"zamer-{job.order.number}.png", sheet)
    for job in installed:
        _attach(job, FileKind.INSTALLATION_PHOTO, f"montazh-{job.order.number}.png", rng.choice(photos))


def _attach(job: Job, kind: FileKind, name: str, data: bytes) -> None:
    db.session.add(JobFile(job=job, order=job.order, kind=kind, name=name, content_type="image/png", size=len(data),
                           data=data, uploaded_by_id=None, created_at=job.done_at or utcnow()))


def _leads(rng: random.Random, now: datetime) -> None:
    for index, (source, name, phone, text) in enumerate(seed_data.LEADS):
        external = f"seed-{index}" if ":" in source else None  # channel messages carry a platform id
        db.session.add(Lead(source=source, name=name, phone=phone, text=text, external_id=external,
                            created_at=now - timedelta(hours=rng.randint(1, 24 * 10))))
    # the two months before: the statistics' leads by source
    sources, weights = zip(*seed_data.LEAD_SOURCES)
    for index in range(seed_data.OLDER_LEADS):
        source = rng.choices(sources, weights)[0]
        _, _, _, text = rng.choice(seed_data.LEADS)
        external = f"seed-old-{index}" if ":" in source else None
        db.session.add(Lead(source=source, name=_person(rng), phone=_phone(rng), text=text, external_id=external,
                            created_at=now - timedelta(days=rng.randint(10, 60), hours=rng.randint(0, 23))))
