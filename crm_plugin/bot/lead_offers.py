"""A new lead goes at once to the managers subscribed to leads, with «Взять»: the first taker becomes the
lead's manager in the CRM (``assign_lead`` is atomic), the others offered it are told who took it. The same
pattern as free measurement requests (crm_plugin.bot.offers, crm_plugin.bot.jobs.on_take).

Also here: the optional auto-reply to a lead's author (off by default, its text per bot).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..core.chat import Button, TextReply
from ..core.i18n import N_, translator
from ..core.models import Bot, LeadOffer, LeadSettings, utcnow
from ..core.state import PluginState
from ..delivery.outbox import enqueue
from ..host import Role
from ..phones import format_phone
from .context import Context
from .payloads import Payload, button
from .recipients import bound_links, language_of, send_to_link
from .router import Router

log = logging.getLogger(__name__)

router = Router("leads")

TEXT_LIMIT = 1500  # characters of the lead's text in the offer (the CRM has it all)
AUTO_REPLY = N_("Thank you! A manager will contact you soon.")
AUTO_REPLY_EVENTS = frozenset({"message_new", "message"})  # a private VK message, a Slack channel message


@dataclass(frozen=True)
class TakeLead(Payload, tag="lead"):
    """A manager takes a new lead from a channel."""

    lead_id: int


def after_lead(state: PluginState, session: Session, bot: Bot, lead: dict[str, Any], result: dict[str, Any]) -> None:
    """In the worker's transaction that marks the lead's row handled: a new lead is offered to the managers,
    and its author gets the bot's auto-reply when the admin switched it on."""
    if result.get("action") == "created" and result.get("lead_id") is not None:
        lead_id = int(result["lead_id"])
        stored = state.gateway.get_lead(lead_id)  # for its page in the CRM («Открыть в CRM»)
        offer(state, session, lead_id, {**(result.get("parsed") or {}), "url": stored.url if stored else None})
    if result.get("action") in ("created", "appended"):
        _auto_reply(session, bot, lead)


class LeadNotVisible(LookupError):
    """The CRM announced a lead it does not show yet (its signal came before its commit): tried again shortly."""


def lead_created(state: PluginState, session: Session, lead_id: int, **_: Any) -> None:
    """The host's ``lead_created`` signal (a lead made in the CRM): offered like a lead from a channel. A lead
    the plugin itself created (and offered) is not offered twice, should the CRM signal it too."""
    if offered_to(session, int(lead_id)):
        return
    lead = state.gateway.get_lead(int(lead_id))
    if lead is None:
        raise LeadNotVisible(f"the CRM has no lead {lead_id}")
    if lead.manager_id is not None:
        return  # taken in the CRM already
    offer(state, session, lead.id, {"source": lead.source, "text": lead.text, "name": lead.name,
                                    "phone": lead.phone, "email": lead.email, "link": lead.source_link,
                                    "url": lead.url})


def offer(state: PluginState, session: Session, lead_id: int, fields: dict[str, Any]) -> int:
    """The lead to every bound account of the active managers subscribed to leads; returns how many."""
    managers = [user.id for user in state.gateway.list_users(role=Role.MANAGER)]
    links = [link for link in bound_links(session, managers) if link.subscribed_leads]
    for link in links:
        t = translator(language_of(link, state.settings))
        send_to_link(session, link, TextReply(_card(t, lead_id, fields), _buttons(t, lead_id, fields)))
    record(session, lead_id, [link.crm_user_id for link in links])
    return len(links)


def _card(t: Any, lead_id: int, fields: dict[str, Any]) -> str:
    text = str(fields.get("text") or "")
    lines = [t("New lead No. %(number)s: %(source)s", number=lead_id, source=fields.get("source") or "—")]
    if fields.get("name"):
        lines.append(t("Name: %(name)s", name=fields["name"]))
    if fields.get("phone"):
        lines.append(t("Phone: %(phone)s", phone=format_phone(str(fields["phone"]))))
    if fields.get("email"):
        lines.append(t("E-mail: %(email)s", email=fields["email"]))
    if text:
        lines.append("")
        lines.append(text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "…")
    return "\n".join(lines)


def _buttons(t: Any, lead_id: int, fields: dict[str, Any]) -> tuple[tuple[Button, ...], ...]:
    rows: list[tuple[Button, ...]] = [(button(t("Take"), TakeLead(lead_id)),)]
    url = fields.get("url")  # the lead's page in the CRM (Lead.url); http only on a loopback demo
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        rows.append((Button.link(t("Open in the CRM"), url),))
    link = fields.get("link")
    if isinstance(link, str) and link.startswith("https://"):
        rows.append((Button.link(t("Open the message"), link),))
    return tuple(rows)


def _auto_reply(session: Session, bot: Bot, lead: dict[str, Any]) -> None:
    settings = session.get(LeadSettings, bot.id)
    # reply_chat_id: where the channel answers under the message itself (a Slack thread); opaque to the bot
    chat_id = lead.get("reply_chat_id") or lead.get("chat_id")
    if settings is None or not settings.auto_reply or not chat_id or lead.get("thread_of"):
        return
    if lead.get("event") not in AUTO_REPLY_EVENTS:
        return  # comments, posts, lead forms: no chat to answer in
    text = (settings.auto_reply_text or "").strip() or translator("ru")(AUTO_REPLY)
    enqueue(session, bot_id=bot.id, chat_id=str(chat_id), reply=TextReply(text))


# --- «Взять» ------------------------------------------------------------------------------------------------

@router.button(TakeLead)
def on_take(ctx: Context) -> None:
    lead_id = ctx.payload(TakeLead).lead_id
    employee = ctx.employee
    offered = was_offered(ctx.session, lead_id, employee.id)
    if not (offered or employee.is_admin) or not (Role.MANAGER in employee.roles or employee.is_admin):
        log.warning("bot %s: CRM user %s refused lead %s (never offered)", ctx.turn.bot.id, employee.id, lead_id)
        ctx.say(ctx.t("This lead is not available to you."))
        return
    if ctx.gateway.assign_lead(lead_id, employee.id):  # one conditional update in the CRM: one taker wins
        ctx.say(ctx.t("Lead No. %(number)s is yours.", number=lead_id))
        _tell_others(ctx, lead_id)
        return
    ctx.say(_taken_text(ctx.t, ctx, lead_id))


def _taken_text(t: Any, ctx: Context, lead_id: int) -> str:
    manager_id = ctx.gateway.lead_manager(lead_id)
    if manager_id is None:
        return t("Lead No. %(number)s can no longer be taken.", number=lead_id)
    if manager_id == ctx.employee.id:
        return t("Lead No. %(number)s is yours.", number=lead_id)
    taker = ctx.turn.crm_user(manager_id)
    return t("Lead No. %(number)s: taken by %(name)s.", number=lead_id, name=taker.full_name if taker else "—")


def _tell_others(ctx: Context, lead_id: int) -> None:
    """Everyone else offered the lead is told who took it, so nobody calls the client twice."""
    others = [user_id for user_id in offered_to(ctx.session, lead_id) if user_id != ctx.employee.id]
    for link in bound_links(ctx.session, others):
        t = translator(language_of(link, ctx.turn.settings))
        send_to_link(ctx.session, link, TextReply(
            t("Lead No. %(number)s: taken by %(name)s.", number=lead_id, name=ctx.employee.user.full_name)))


# --- who was offered what -----------------------------------------------------------------------------------

def record(session: Session, lead_id: int, crm_user_ids: Iterable[int]) -> None:
    rows = [{"lead_id": lead_id, "crm_user_id": user_id, "offered_at": utcnow()} for user_id in sorted(set(crm_user_ids))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        known = set(offered_to(session, lead_id))
        session.add_all(LeadOffer(**row) for row in rows if row["crm_user_id"] not in known)
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LeadOffer).values(rows).on_conflict_do_nothing(index_elements=["lead_id", "crm_user_id"]))


def was_offered(session: Session, lead_id: int, crm_user_id: int) -> bool:
    return session.scalar(select(LeadOffer.id).where(LeadOffer.lead_id == lead_id,
                                                     LeadOffer.crm_user_id == crm_user_id)) is not None


def offered_to(session: Session, lead_id: int) -> list[int]:
    return list(session.scalars(select(LeadOffer.crm_user_id).where(LeadOffer.lead_id == lead_id)
                                .order_by(LeadOffer.crm_user_id)))
