"""Leads from channels: which captured posts count (in the webhook), and their way into the CRM (in the worker).

A lead capture (``ParsedRequest.leads``, made by channels/vk_leads.py and channels/slack_inbound.py) is a dict:
``event`` (the platform's event type), ``source`` ("vk:club123", "slack:C0123"), ``text``, ``user_id`` (the
author, named later from the platform profile), ``external_id`` (the platform's unique id of the message),
``link`` back to it, ``chat_id`` where an auto-reply goes, and for some: ``channel`` (Slack), ``thread_of``
(a Slack thread reply: the external id of the lead it joins), ``reply_chat_id`` (Slack: the auto-reply's
address in the message's thread, read only by the channel), ``stranger_only`` (a VK message: a lead only
when its author is no employee of this bot), ``name``/``phone``/``email`` (a VK lead form).

Capturing is storing: ``select`` picks what counts for the bot and the webhook stores each as a RECEIVED row
in the same transaction as the platform's dedupe key, so a retried event stores nothing twice.

``work`` runs in the worker with no transaction open: the author's profile (VK users.get, Slack users.info)
and the CRM's calls (find_recent_lead, append_to_lead, create_lead). A transient error goes up and the worker
tries again with back-off (delivery.sender); on the row's last try a profile that still cannot be read no
longer holds the lead back: it goes in without the name. The CRM is idempotent by the external id, so a
repeat after a lost answer stores nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels.base import ProfileLookup, SendError
from ..core.models import (
    BindingRequest,
    Bot,
    ChatState,
    EmployeeLink,
    LeadSettings,
    Message,
    MessageStatus,
    Platform,
    utcnow,
)
from ..core.state import PluginState
from ..delivery.sender import RetryLater
from ..host import Lead, LeadDraft
from .lead_parse import ParsedLead, parse_lead

log = logging.getLogger(__name__)

LEAD_KIND = "lead"
PARENT_WAIT = 0.5  # seconds before looking again for the lead a Slack thread reply joins


# --- in the webhook: what counts ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Selected:
    leads: list[dict[str, Any]]
    instead_of_turn: bool  # a VK message that became a lead: the staff bot does not answer a customer


def select_leads(session: Session, bot_id: int, leads: list[dict[str, Any]]) -> Selected:
    """The captures that count on this bot: its «Заявки из каналов» is on, the event type or channel is one the
    admin chose, and a VK message's author is nobody the staff bot knows (bound, binding, or mid-conversation)."""
    if not leads:  # the common case: no statement at all
        return Selected([], False)
    bot = session.get(Bot, bot_id)
    if bot is None or not bot.leads_enabled:
        return Selected([], False)
    settings = session.get(LeadSettings, bot_id)
    kept, instead = [], False
    for lead in leads:
        if not _counts(bot.platform, settings, lead):
            continue
        if lead.get("stranger_only"):
            if _known(session, bot_id, lead):
                continue  # an employee writing to the staff bot
            instead = True
        kept.append(_named(bot.platform, settings, lead))
    return Selected(kept, instead)


def _named(platform: Platform, settings: LeadSettings | None, lead: dict[str, Any]) -> dict[str, Any]:
    """A Slack channel's lead under the name the admin chose the channel by ("slack:#sales")."""
    name = (settings.slack_channels or {}).get(str(lead.get("channel"))) if settings is not None else None
    if platform is Platform.SLACK and isinstance(name, str) and name.strip():
        return {**lead, "source": f"slack:#{name.strip().lstrip('#')}"}
    return lead


def _counts(platform: Platform, settings: LeadSettings | None, lead: dict[str, Any]) -> bool:
    if settings is None:
        return True
    if platform is Platform.VK:
        return str(lead.get("event")) in settings.vk_event_set()
    if platform is Platform.SLACK:
        chosen = settings.slack_channels or {}
        return not chosen or str(lead.get("channel")) in chosen
    return True


def _known(session: Session, bot_id: int, lead: dict[str, Any]) -> bool:
    user_id, chat_id = str(lead.get("user_id") or ""), str(lead.get("chat_id") or "")
    link = session.scalar(select(EmployeeLink.id).where(EmployeeLink.bot_id == bot_id,
                                                        EmployeeLink.platform_user_id == user_id))
    binding = session.scalar(select(BindingRequest.id).where(BindingRequest.bot_id == bot_id,
                                                             BindingRequest.platform_user_id == user_id,
                                                             BindingRequest.closed_at.is_(None)))
    state = session.get(ChatState, (bot_id, chat_id)) if chat_id else None
    return link is not None or binding is not None or (state is not None and bool(state.state))


def chat_of(lead: dict[str, Any]) -> str:
    """The log's chat of a lead row: its source and author. The worker handles one chat's rows in order, so
    one person's messages (and a Slack thread's replies) reach the CRM in the order written, while leads
    of different people go in side by side, and one author's failing lookup holds back no one else."""
    source = str(lead.get("source") or "")
    return f"{source}:{lead['user_id']}" if lead.get("user_id") else source


# --- in the worker: into the CRM ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What became of a lead row: ``action`` created / appended / ignored, the CRM's lead id, a note."""

    action: str
    lead_id: int | None
    parsed: ParsedLead | None
    note: str | None = None

    def result(self) -> dict[str, Any]:
        parsed = asdict(self.parsed) if self.parsed else {}
        parsed.pop("extra", None)
        parsed["phones"], parsed["emails"] = list(parsed.get("phones", ())), list(parsed.get("emails", ()))
        return {"action": self.action, "lead_id": self.lead_id, "parsed": parsed}


def work(state: PluginState, bot: Bot, message: Message, channel: Any, *, last_try: bool) -> Outcome:
    """The lead of one row into the CRM (no transaction of ours open). Raises what is worth trying again."""
    lead = dict(message.payload["lead"])
    profile, note = _profile(channel, lead, message.id, last_try)
    parsed = parse_lead(lead, profile)
    gateway = state.gateway
    external_id = lead.get("external_id")
    if lead.get("thread_of"):
        parent = _parent_lead(state, message, str(lead["thread_of"]))
        if parent is None:
            return Outcome("ignored", None, parsed, "a reply in a thread whose first message is no lead")
        gateway.append_to_lead(parent, parsed.text, parsed.link, external_id=external_id)
        return Outcome("appended", parent, parsed, note)
    days = state.settings.lead_dedupe_days
    if days > 0 and (parsed.phone or parsed.email):
        since = utcnow() - timedelta(days=days)
        existing = gateway.find_recent_lead(phone=parsed.phone, email=parsed.email, since=since)
        if existing is not None and _is_this(gateway.get_lead(existing), parsed):
            return Outcome("created", existing, parsed, note)  # ours, from a try whose answer was lost
        if existing is not None:
            gateway.append_to_lead(existing, parsed.text, parsed.link, external_id=external_id)
            return Outcome("appended", existing, parsed, note)
    lead_id = gateway.create_lead(LeadDraft(
        source=parsed.source or bot.platform.value, text=parsed.text, name=parsed.name, phone=parsed.phone,
        external_id=external_id, email=parsed.email, source_link=parsed.link))
    return Outcome("created", lead_id, parsed, note)


def _is_this(lead: Lead | None, parsed: ParsedLead) -> bool:
    """Whether the CRM's lead is this very message (created by an earlier try of this row)."""
    return lead is not None and lead.text == parsed.text and lead.source_link == parsed.link and bool(parsed.link)


def _profile(channel: Any, lead: dict[str, Any], message_id: int,
             last_try: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The author's platform profile, or None with a note when it cannot be had. A transient error goes up
    (the worker tries again), except on the row's last try: then the lead goes in without it."""
    user_id = lead.get("user_id")
    if not user_id or lead.get("name") or not isinstance(channel, ProfileLookup):
        return None, None
    try:
        return channel.user_profile(str(user_id)), None
    except SendError as error:
        if not error.permanent and not last_try:
            raise
        note = f"the lead went in without its author's name: {error}"
        log.warning("lead of message %s: %s", message_id, note)
        return None, note


def _parent_lead(state: PluginState, message: Message, thread_of: str) -> int | None:
    """The CRM id of the lead a thread reply joins; RetryLater while that lead is still on its way."""
    with state.db.session() as session:
        parents = list(session.scalars(
            select(Message).where(Message.bot_id == message.bot_id, Message.kind == LEAD_KIND,
                                  Message.platform_message_id == thread_of, Message.id != message.id)
            .order_by(Message.id)))
    for parent in parents:
        if parent.status is MessageStatus.RECEIVED:
            raise RetryLater("the thread's first message is still on its way to the CRM", PARENT_WAIT)
        lead_id = (parent.payload.get("result") or {}).get("lead_id")
        if lead_id is not None:
            return int(lead_id)
    return None
