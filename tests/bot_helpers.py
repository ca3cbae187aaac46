"""A world for the bot tests: the demo CRM with the plugin, CRM employees and jobs added directly in the demo's
tables, and turns run through crm_plugin.bot.handle the way the worker runs them (one transaction each)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select

from crm_plugin import PluginState, get_state
from crm_plugin import bot as conversation
from crm_plugin.bot.turn import Turn
from crm_plugin.core.chat import (
    Button,
    ButtonKind,
    ButtonPress,
    Event,
    FileRef,
    Inbound,
    MediaReply,
    Sender,
    Start,
    Text,
    TextReply,
)
from crm_plugin.core.models import Bot, EmployeeLink, Message, Platform
from crm_plugin.demo.models import Client, Job, LoginCode, Order, User, db
from crm_plugin.host import JobKind, JobStatus, Role

UTC = timezone.utc
MSK = timezone(timedelta(hours=3))
# A fixed "now": Wednesday 2026-03-04 21:30 UTC is already Thursday 00:30 in Moscow, so "today" differs
# between UTC and the company's zone and the tests see which one the bot uses.
NOW = datetime(2026, 3, 4, 21, 30, tzinfo=UTC)


@dataclass
class World:
    app: Flask
    now: datetime = NOW
    bot_id: int = 0
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> bytes the "platform" serves
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def state(self) -> PluginState:
        return get_state(self.app)

    # --- the CRM side -----------------------------------------------------------------------------

    def add_bot(self, platform: Platform = Platform.TELEGRAM, username: str = "okna_bot", active: bool = True) -> int:
        with self.state.db.session() as session:
            bot = Bot(platform=platform, name="Тест", username=username, active=active,
                      credentials_encrypted=self.state.secrets.seal({"token": "123:abc"}))
            session.add(bot)
            session.flush()
            if not self.bot_id:
                self.bot_id = bot.id
            return bot.id

    def user(self, login: str, *roles: Role, phone: str | None = None, admin: bool = False, active: bool = True,
             name: str | None = None) -> int:
        with self.app.app_context():
            user = User(login=login, full_name=name or f"{login.capitalize()} Иван", email=f"{login}@okna.example",
                        active=active, is_admin=admin, password_hash="-")
            user.roles = frozenset(roles)
            user.phone = phone
            db.session.add(user)
            db.session.commit()
            return user.id

    def set_user(self, user_id: int, **values: Any) -> None:
        with self.app.app_context():
            user = db.session.get(User, user_id)
            for key, value in values.items():
                setattr(user, key, value)
            db.session.commit()

    def job(self, kind: JobKind = JobKind.MEASUREMENT, at: datetime | None = NOW, assignee: int | None = None,
            status: JobStatus | None = None, *, address: str = "г. Казань, ул. Баумана, д. 5, кв. 12",
            client: str = "Петров Пётр Сергеевич", lat: float | None = 55.79, lon: float | None = 49.12,
            order_id: int | None = None, comment: str | None = "Домофон 15") -> int:
        with self.app.app_context():
            if order_id is None:
                number = f"З-2026-{next(self._ids):04d}"
                order = Order(number=number, amount=Decimal(50_000),
                              client=Client(name=client, phones_text="8 (917) 000-11-22", address=address))
            else:
                order = db.session.get(Order, order_id)
            job = Job(kind=kind, order=order, scheduled_at=at, address=address, latitude=lat, longitude=lon,
                      manager_comment=comment, assignee_id=assignee,
                      status=status or (JobStatus.SCHEDULED if assignee else JobStatus.NEW))
            db.session.add(job)
            db.session.commit()
            return job.id

    def crm_job(self, job_id: int) -> Any:
        with self.app.app_context():
            return self.state.gateway.get_job(job_id)

    def crm_files(self, job_id: int) -> list[Any]:
        with self.app.app_context():
            job = self.state.gateway.get_job(job_id)
            return [f for f in self.state.gateway.list_files(job.order_id) if f.job_id == job_id]

    def login_codes(self, user_id: int) -> list[str]:
        with self.app.app_context():
            return [c.code for c in db.session.scalars(select(LoginCode).where(LoginCode.user_id == user_id)
                                                          .order_by(LoginCode.id))]

    # --- the messenger side -----------------------------------------------------------------------

    def send(self, sender: Sender, event: Event, *, now: datetime | None = None, bot_id: int | None = None,
             settings: dict[str, Any] | None = None) -> Turn:
        """One event through the bot in one transaction, as the worker does it."""
        with self.app.app_context(), self.state.db.session() as session:
            bot = session.get(Bot, bot_id or self.bot_id)
            turn = Turn(session=session, gateway=self.state.gateway, bot=bot, inbound=Inbound(sender, event),
                        settings=self.state.settings.with_values(**(settings or {})), download=self.download,
                        now=now or self.now)
            conversation.handle(turn)
        return turn

    def download(self, ref: FileRef) -> bytes:
        return self.files[ref.file_id]

    def press(self, sender: Sender, payload: str, **kwargs: Any) -> Turn:
        return self.send(sender, ButtonPress(payload), **kwargs)

    def say(self, sender: Sender, text: str, **kwargs: Any) -> Turn:
        return self.send(sender, Text(text), **kwargs)

    def bind(self, sender: Sender, login: str) -> Turn:
        """Bind through the typed login and the code the CRM delivered: the real path, no shortcuts."""
        self.say(sender, login)
        with self.app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.login == login))
        turn = self.say(sender, self.login_codes(user_id)[-1])
        assert link_of(self, sender) is not None, texts(turn)
        return turn

    def outbox(self, chat_id: str | None = None) -> list[Message]:
        with self.state.db.session() as session:
            stmt = select(Message).where(Message.direction == "out").order_by(Message.id)
            if chat_id is not None:
                stmt = stmt.where(Message.chat_id == chat_id)
            return list(session.scalars(stmt))


_senders = itertools.count(1000)


def person(name: str = "Иван", language: str | None = "ru") -> Sender:
    uid = str(next(_senders))
    return Sender(user_id=uid, chat_id=uid, name=name, language=language)


def link_of(world: World, sender: Sender) -> EmployeeLink | None:
    with world.state.db.session() as session:
        return session.scalars(select(EmployeeLink).where(EmployeeLink.platform_user_id == sender.user_id,
                                                          EmployeeLink.status == "bound")).first()


def texts(turn: Turn) -> list[str]:
    return [r.text for r in turn.sent if isinstance(r, TextReply)]


def last_text(turn: Turn) -> str:
    found = texts(turn)
    assert found, f"no text reply in {turn.sent}"
    return found[-1]


def buttons(turn: Turn) -> list[Button]:
    return [b for r in turn.sent if isinstance(r, TextReply) for row in r.buttons for b in row]


def payloads(turn: Turn) -> list[str]:
    return [b.payload for b in buttons(turn) if b.kind is ButtonKind.PAYLOAD and b.payload]


def payload_of(turn: Turn, label: str) -> str:
    """The payload of the button whose label is ``label`` (the person taps what they read)."""
    for b in buttons(turn):
        if b.label == label and b.payload:
            return b.payload
    raise AssertionError(f"no button {label!r} in {[b.label for b in buttons(turn)]}")


def job_buttons(turn: Turn) -> list[int]:
    return [int(p.split(":")[1]) for p in payloads(turn) if p.startswith("job:")]


def media(turn: Turn) -> list[MediaReply]:
    return [r for r in turn.sent if isinstance(r, MediaReply)]


def start(world: World, sender: Sender, payload: str | None = None) -> Turn:
    return world.send(sender, Start(payload))

