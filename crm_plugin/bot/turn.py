"""One turn of a conversation: an incoming event and everything a handler may use to answer it.

Handlers see no Flask request and no platform SDK: they read and write through the session and the
gateway, and answer with neutral replies that go to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ..core.chat import FileRef, Inbound, Reply
from ..core.models import Bot, EmployeeLink
from ..core.settings import Settings
from ..delivery.outbox import enqueue
from ..host import CrmGateway, User
from . import keyboards


@dataclass
class Turn:
    session: Session  # the plugin's tables, in the transaction of this turn
    gateway: CrmGateway
    bot: Bot
    inbound: Inbound
    settings: Settings
    download: Callable[[FileRef], bytes]  # the channel's download, for files the person sent
    now: datetime
    link: EmployeeLink | None = None  # the sender's binding on this bot, when there is one
    # The caller looked the sender's row up and ``link`` is what it found: None then means there is none, and
    # the turn does not read it again (a stranger's every message would otherwise ask twice).
    link_looked_up: bool = False
    sent: list[Reply] = field(default_factory=list)
    crm_users: dict[int, User | None] = field(default_factory=dict, repr=False)  # read in this turn, by id

    def crm_user(self, user_id: int) -> User | None:
        """The CRM user, asked of the gateway once per turn: the sender's own record serves the access check,
        the menu and their name on a job; an admin's list names each job's assignee."""
        if user_id not in self.crm_users:
            self.crm_users[user_id] = self.gateway.get_user(user_id)
        return self.crm_users[user_id]

    def reply(self, reply: Reply) -> None:
        """Answer the person who wrote."""
        chat_id = self.inbound.sender.chat_id
        for part in keyboards.parts(self.session, self.bot, chat_id, reply):
            part = keyboards.prepare(self.session, self.bot, chat_id, part, own_chat=True)
            enqueue(self.session, bot_id=self.bot.id, chat_id=chat_id, reply=part,
                    link_id=self.link.id if self.link else None)
            self.sent.append(part)
