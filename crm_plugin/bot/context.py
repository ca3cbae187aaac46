"""What a handler gets: the turn, the person (guest or bound employee), their language and the chat's state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..core.chat import Button, Event, Reply, Sender, TextReply
from ..core.i18n import pick_language, translator
from ..core.models import ChatState, EmployeeLink
from ..host import CrmGateway, User
from .access import Employee
from .chat_state import load_chat_state
from .payloads import Payload, payload_of
from .turn import Turn

DEFAULT_TIMEZONE = "Europe/Moscow"
KEEP_PREFIX = "_"  # chat data keys that outlive a change of state (rate-limit counters)

P = TypeVar("P", bound=Payload)

__all__ = ["Context", "load_chat_state"]


@dataclass
class Context:
    turn: Turn
    chat: ChatState
    user: User | None = None  # the CRM user, for a bound employee
    link: EmployeeLink | None = None
    # What a feature reads once per turn however often its steps ask (the statistics a person may see), by a
    # key of the feature's own that names whatever the value depends on.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.lang = pick_language(self.link.language if self.link else None, self.sender.language,
                                  self.turn.settings.language)
        self.t = translator(self.lang)

    # who and what

    @property
    def event(self) -> Event:
        return self.turn.inbound.event

    @cached_property
    def pressed(self) -> Payload | None:
        """The pressed button's payload, unpacked once per turn (every button route tests it); None for other
        events and for payloads ``unpack`` refuses."""
        return payload_of(self.event)

    def payload(self, kind: type[P]) -> P:
        """The pressed button's payload, for a handler routed by ``router.button(kind)``."""
        payload = self.pressed
        if not isinstance(payload, kind):  # a handler reached by another route: a bug, not a forged button
            raise TypeError(f"expected a {kind.__name__} button, got {self.event!r}")
        return payload

    @property
    def sender(self) -> Sender:
        return self.turn.inbound.sender

    @property
    def session(self) -> Session:
        return self.turn.session

    @property
    def gateway(self) -> CrmGateway:
        return self.turn.gateway

    @property
    def now(self) -> datetime:
        return self.turn.now

    @property
    def is_guest(self) -> bool:
        return self.user is None

    @property
    def employee(self) -> Employee:
        assert self.user is not None, "guests have no employee"
        return Employee.of(self.user, self.link.role_override if self.link else None)

    def become(self, link: EmployeeLink, user: User) -> None:
        """The guest has just been bound: the rest of the turn speaks to the employee."""
        self.link, self.user = link, user
        self.turn.link = link
        self.turn.crm_users[user.id] = user
        self.__post_init__()

    # time in the company's zone

    @property
    def tz(self) -> ZoneInfo:
        return self.turn.settings.tz

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    # answers

    def reply(self, reply: Reply) -> None:
        self.turn.reply(reply)

    def say(self, text: str, rows: Iterable[Sequence[Button]] = ()) -> None:
        self.turn.reply(TextReply(text, tuple(tuple(row) for row in rows if row)))

    # conversation state

    @property
    def state_name(self) -> str:
        return self.chat.state

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.chat.data or {})

    def set_state(self, name: str, **data: Any) -> None:
        kept = {k: v for k, v in (self.chat.data or {}).items() if k.startswith(KEEP_PREFIX)}
        self.chat.state = name
        self.chat.data = {**kept, **data}  # a new dict: JSON columns do not track changes in place

    def update_data(self, **data: Any) -> None:
        self.chat.data = {**(self.chat.data or {}), **data}

    def clear_state(self) -> None:
        self.set_state("")
