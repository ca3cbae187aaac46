"""Messages to people other than the one who wrote: they go straight to the outbox, in the language of
each recipient's binding."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.chat import Reply, TextReply
from ..core.i18n import pick_language, translator
from ..core.models import Bot, EmployeeLink, LinkStatus
from ..core.settings import Settings
from ..delivery.outbox import enqueue
from . import keyboards, labels
from .payloads import Menu, button


def bound_links(session: Session, crm_user_ids: Iterable[int] | None = None) -> list[EmployeeLink]:
    """Bound, reachable accounts on active bots (of these CRM users, or of everyone); never a trial one (the
    web chat's try-outs get no company notifications)."""
    stmt = (select(EmployeeLink).join(Bot, Bot.id == EmployeeLink.bot_id)
            .where(Bot.active.is_(True), EmployeeLink.status == LinkStatus.BOUND, EmployeeLink.chat_id.is_not(None),
                   EmployeeLink.trial.is_(False))
            .order_by(EmployeeLink.id))
    if crm_user_ids is not None:
        stmt = stmt.where(EmployeeLink.crm_user_id.in_(list(crm_user_ids)))
    return list(session.scalars(stmt))


def language_of(link: EmployeeLink, settings: Settings) -> str:
    return pick_language(link.language, None, settings.language)


def send_to_link(session: Session, link: EmployeeLink, reply: Reply) -> None:
    assert link.chat_id is not None
    bot = session.get(Bot, link.bot_id)
    assert bot is not None  # links are deleted with their bot
    reply = keyboards.prepare(session, bot, link.chat_id, reply, own_chat=False)
    enqueue(session, bot_id=link.bot_id, chat_id=link.chat_id, reply=reply, link_id=link.id)


def send_menu_invitation(session: Session, link: EmployeeLink, settings: Settings) -> None:
    """Told after an admin approved the binding: the menu is one tap away."""
    t = translator(language_of(link, settings))
    send_to_link(session, link, TextReply(
        t("An administrator has confirmed your account. Open the menu to see your jobs."),
        ((button(t(labels.MENU), Menu()),),)))
