"""The world of a flow test: the demo CRM with the plugin and the real delivery worker, the CRM's people
(a manager, an admin), its job lists around the company's day boundaries, and the files staff send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crm_plugin import get_state
from crm_plugin.bot import make_invite
from crm_plugin.core.models import Bot, Direction, EmployeeLink, Message, MessageStatus, Platform
from crm_plugin.delivery.sender import Policy
from crm_plugin.demo.images import window_photo
from crm_plugin.extension import make_worker
from crm_plugin.host import FileKind, Job, JobKind, JobQuery, JobStatus, NewFile, Role

from ..admin_helpers import add_user, admin_client, login, post
from ..bot_helpers import World

if TYPE_CHECKING:
    from .people import Person

FAST_CHAT_RATE = 50.0  # messages a second to one chat, for the worker and the fakes (see tests/flows/__init__)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PHOTOS = [window_photo(color) for color in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]


@dataclass
class Flow(World):
    """The demo CRM with the plugin, a test client for webhooks and the real worker, drained after each action."""

    client: Any = None
    worker: Any = None

    def __post_init__(self) -> None:
        self.client = self.app.test_client()
        self.worker = make_worker(self.app, poll=0.05,
                                     policy=Policy(per_chat_rate=FAST_CHAT_RATE, backoff_base=0.05))

    def run(self) -> None:
        """Until the bot has answered everything and every answer is delivered; a crash of the bot fails."""
        assert self.worker.drain(timeout=15), "the worker did not empty the queue"
        with self.state.db.session() as session:
            failed = [(m.direction.value, m.preview, m.error) for m in session.scalars(
                select(Message).where(Message.status == MessageStatus.FAILED))]
        assert not failed, failed

    def bot(self, platform: Platform, credentials: dict[str, str], *, webhook_secret: str | None = None,
            username: str | None = None, leads_enabled: bool = False) -> int:
        with self.state.db.session() as session:
            row = Bot(platform=platform, name=platform.value, username=username, webhook_secret=webhook_secret,
                      credentials_encrypted=self.state.secrets.seal(credentials), leads_enabled=leads_enabled)
            session.add(row)
            session.flush()
            return row.id

    def invite(self, bot_id: int, crm_user_id: int) -> str:
        with self.state.db.session() as session:
            return make_invite(session, session.get(Bot, bot_id), crm_user_id)

    def link(self, bot_id: int, crm_user_id: int) -> EmployeeLink | None:
        with self.state.db.session() as session:
            return session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                              EmployeeLink.crm_user_id == crm_user_id)).first()

    def jobs_of(self, assignee_id: int) -> list[Job]:
        with self.app.app_context():
            return self.state.gateway.list_jobs(JobQuery(assignee_id=assignee_id))

    def incoming(self, bot_id: int) -> list[Message]:
        with self.state.db.session() as session:
            return list(session.scalars(select(Message).where(Message.bot_id == bot_id,
                                                              Message.direction == Direction.IN)))


@pytest.fixture(name="flow")
def flow_fixture(app: Flask) -> Iterator[Flow]:
    world = Flow(app)
    yield world
    world.worker.stop()


# --- the CRM's own people ---------------------------------------------------------------------------

def manager_client(flow: Flow) -> FlaskClient:
    """A manager logged into the demo CRM's own pages."""
    add_user(flow.app, "manager", roles=(Role.MANAGER,), full_name="Гареева Алсу")
    client = flow.app.test_client()
    login(client, "manager")
    return client


def block_in_admin(flow: Flow, link_id: int) -> None:
    """The CRM admin ticks the employee on «Боты, Пользователи → Сотрудники» and chooses «Заблокировать»."""
    admin = admin_client(flow.app)
    response = post(admin, "/employees/action/", {"action": "block", "rowid": [str(link_id)]},
                    token_from="/employees/", follow_redirects=True)
    assert "Заблокировано: 1" in response.get_data(as_text=True)


def measurement_form(**override: Any) -> dict[str, Any]:
    """The manager's «new measurement» form of the demo CRM, filled in."""
    return {"client_id": 0, "client_name": "Сафина Лилия Ринатовна", "client_phone": "8 (917) 300-44-55",
            "address": "Казань, ул. Баумана, д. 19, кв. 7", "latitude": "55.7887", "longitude": "49.1186",
            "scheduled_at": "2030-03-10T10:00", "assignee_id": 0, "manager_comment": "Три окна, 5 этаж",
            "amount": "", **override}


def attach_measurement_files(flow: Flow, job_id: int, measurer: int, photos: list[bytes]) -> None:
    """The measurer's object photos (object-0.png…) and a sheet (лист.pdf), put into the CRM directly."""
    gateway = flow.state.gateway
    with flow.app.app_context():
        for index, photo in enumerate(photos):
            gateway.attach_file(job_id, NewFile(FileKind.OBJECT_PHOTO, f"object-{index}.png", "image/png", photo),
                                measurer)
        gateway.attach_file(job_id, NewFile(FileKind.MEASUREMENT_SHEET, "лист.pdf", "application/pdf", PDF), measurer)


# --- job lists around the company's day boundaries ------------------------------------------------------

LIST_LABELS = {"new": "Новые заявки", "today": "Сегодня", "tomorrow": "Завтра", "upcoming": "Предстоящие",
               "done": "Выполненные за 40 дней"}


def local_moment(flow: Flow, days: int, hour: int, minute: int) -> datetime:
    """``days`` from today in the company's zone (CRM_PLUGIN_TIMEZONE), at hour:minute there, in UTC."""
    tz = get_state(flow.app).settings.tz
    day = datetime.now(tz).date() + timedelta(days=days)
    return datetime.combine(day, dtime(hour, minute), tzinfo=tz).astimezone(UTC)


def boundary_jobs(flow: Flow, kind: JobKind, worker: int, colleague: int) -> dict[str, set[int]]:
    """Jobs of ``kind`` a minute on both sides of each boundary; returns which belong in each list."""
    done = JobStatus.MEASURED if kind is JobKind.MEASUREMENT else JobStatus.INSTALLED

    def job(days: int, hour: int, minute: int, status: JobStatus = JobStatus.SCHEDULED,
            assignee: int | None = worker) -> int:
        return flow.job(kind, local_moment(flow, days, hour, minute), assignee, status)

    job(-1, 23, 59)  # yesterday's last minute: in no list
    today = {job(0, 0, 1), job(0, 23, 59)}
    tomorrow = {job(1, 0, 1), job(1, 23, 59)}
    after_tomorrow = job(2, 0, 1)
    own_new = job(3, 10, 0, JobStatus.NEW)
    free = job(2, 15, 0, JobStatus.NEW, assignee=None)  # a request nobody has taken
    job(0, 12, 0, JobStatus.CANCELLED)
    job(0, 11, 0, assignee=colleague)  # someone else's
    done_today = job(0, 9, 0, done)
    done_in, _done_out = job(-40, 0, 1, done), job(-41, 23, 59, done)
    return {
        "new": {own_new} | ({free} if kind is JobKind.MEASUREMENT else set()),  # only measurers take requests
        "today": today | {done_today},  # done ones stay in the day's list, marked
        "tomorrow": tomorrow,
        "upcoming": today | tomorrow | {after_tomorrow, own_new},
        "done": {done_today, done_in},
    }


def lists_seen(person: Person) -> dict[str, set[int]]:
    """Each list opened from the menu the way a person does it: the list, then back to the menu."""
    seen = {}
    for period, label in LIST_LABELS.items():
        person.tap(label)
        seen[period] = set(person.job_ids())
        person.tap("Меню")
    return seen
