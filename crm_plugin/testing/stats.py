"""A company's worth of statistics in an InMemoryGateway: three managers, three measurers, two installers and
a few months of orders, visits and leads, the same for the same ``seed`` and ``now``. For the statistics'
tests and benchmarks, and the bot's tests of «📊 Статистика»."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..host import JobKind, JobStatus, Role
from .memory import InMemoryGateway

LEAD_SOURCES = ("сайт", "телефон", "vk:club218840551", "авито", "slack:#sales", "2гис", "instagram")


@dataclass(frozen=True)
class StatsWorld:
    managers: tuple[int, ...]
    measurers: tuple[int, ...]
    installers: tuple[int, ...]
    admin: int


def fill_stats(gateway: InMemoryGateway, now: datetime, *, days: int = 120, orders: int = 360,
               leads: int = 150, seed: int = 7) -> StatsWorld:
    """Orders over the ``days`` before ``now`` (a tenth cancelled, each with a manager), a measurement done
    a day after each order that is not cancelled, an installation a week later for most, and leads."""
    rng = random.Random(seed)
    add = gateway.add_user
    admin = add("stats-admin", "Администратор CRM", is_admin=True)
    managers = [add(f"stats-manager-{i}", name, roles={Role.MANAGER}) for i, name in enumerate(
        ("Гареева Алсу Ринатовна", "Смирнов Дмитрий Олегович", "Кузьмина Елена Викторовна"))]
    measurers = [add(f"stats-measurer-{i}", name, roles={Role.MEASURER}) for i, name in enumerate(
        ("Хайруллин Ильдар Маратович", "Волков Сергей Андреевич", "Сабирова Гульнара Ильдаровна"))]
    installers = [add(f"stats-installer-{i}", name, roles={Role.INSTALLER}) for i, name in enumerate(
        ("Никитин Алексей Петрович", "Галиев Руслан Азатович"))]
    client = gateway.add_client("Иванов Пётр", phones=["+7 917 000-11-22"], address="Казань, ул. Баумана, 5")
    for _ in range(orders):
        created = now - timedelta(days=rng.uniform(0, days))
        cancelled = rng.random() < 0.1
        order = gateway.add_order(client.id, amount=float(rng.randrange(18_000, 260_000, 100)), created_at=created,
                                  cancelled=cancelled, manager_id=rng.choice(managers).id)
        measured = created + timedelta(days=1, hours=rng.randint(0, 8))
        if cancelled:
            gateway.add_job(JobKind.MEASUREMENT, order_id=order, status=JobStatus.CANCELLED,
                            cancelled_at=min(measured, now))
            continue
        if measured > now:
            continue
        gateway.add_job(JobKind.MEASUREMENT, order_id=order, status=JobStatus.MEASURED,
                        assignee_id=rng.choice(measurers).id, done_at=measured)
        installed = measured + timedelta(days=7, hours=rng.randint(0, 8))
        if installed < now and rng.random() < 0.8:
            gateway.add_job(JobKind.INSTALLATION, order_id=order, status=JobStatus.INSTALLED,
                            assignee_id=rng.choice(installers).id, done_at=installed)
    for _ in range(leads):
        gateway.add_lead(rng.choice(LEAD_SOURCES), text="Нужен замер", created_at=now - timedelta(
            days=rng.uniform(0, days)))
    return StatsWorld(tuple(u.id for u in managers), tuple(u.id for u in measurers),
                      tuple(u.id for u in installers), admin.id)
