"""Binding a messenger account to a CRM employee: invites, one-time codes, admin approval, unbinding.

Security rests here. An account is bound only by proof: the person's own phone shared by the messenger, a
one-time invite an admin handed out, a code the CRM delivered to the employee, or an admin's approval. A
binding blocked in the plugin is never replaced by a new one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..core.chat import Sender
from ..core.i18n import normalise_language
from ..core.models import BindingRequest, Bot, ChatState, EmployeeLink, Invite, LinkStatus, utcnow
from ..core.settings import Settings
from ..host import CrmGateway

log = logging.getLogger(__name__)

INVITE_TTL = timedelta(days=7)
CODE_TTL = timedelta(minutes=15)
CODE_DIGITS = 6
MAX_WRONG_CODES = 5  # per request; then it is closed
MAX_CODES_PER_IDENTITY_HOUR = 5  # codes sent to one employee an hour, from any chat


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- invites --------------------------------------------------------------------------------------

def make_invite(session: Session, bot: Bot, crm_user_id: int, ttl: timedelta = INVITE_TTL, *,
                now: datetime | None = None) -> str:
    """A one-time token binding whoever opens it to ``crm_user_id`` on ``bot``; only its hash is stored."""
    token = secrets.token_urlsafe(24)  # 32 chars of [A-Za-z0-9_-]: fits Telegram's 64-char start payload
    now = now or utcnow()
    session.add(Invite(bot_id=bot.id, crm_user_id=crm_user_id, token_hash=secret_hash(token),
                       expires_at=now + ttl, created_at=now))
    session.flush()
    return token


class InviteProblem(str, enum.Enum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


def redeem_invite(session: Session, bot: Bot, token: str, now: datetime) -> Invite | InviteProblem:
    """Use up the invite (in the caller's transaction), or say why it cannot be used."""
    invite = session.scalars(select(Invite).where(Invite.bot_id == bot.id, Invite.token_hash == secret_hash(token))
                             .with_for_update()).first()
    if invite is None:
        return InviteProblem.UNKNOWN
    if invite.used_at is not None:
        return InviteProblem.USED
    if invite.expires_at <= now:
        return InviteProblem.EXPIRED
    invite.used_at = now
    return invite


# --- the binding itself ---------------------------------------------------------------------------

def is_blocked(session: Session, bot_id: int, crm_user_id: int) -> bool:
    link = session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                      EmployeeLink.crm_user_id == crm_user_id)).first()
    return link is not None and link.status is LinkStatus.BLOCKED


def bind(session: Session, bot_id: int, crm_user_id: int, sender: Sender, now: datetime) -> EmployeeLink | None:
    """Bind the sender's account to the employee; None when an admin has blocked that employee here.

    One account is one employee and one employee one account per bot: an older binding of either side is
    released (a new phone replaces the old one; the old account becomes a guest).
    """
    link = session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                      EmployeeLink.crm_user_id == crm_user_id)).first()
    if link is not None and link.status is LinkStatus.BLOCKED:
        return None
    for other in session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == bot_id,
                                                            EmployeeLink.platform_user_id == sender.user_id)):
        if other is not link:
            if other.status is LinkStatus.BLOCKED:
                return None  # a blocked account stays blocked, whoever it claims to be
            release(other)
    session.flush()
    if link is None:
        link = EmployeeLink(bot_id=bot_id, crm_user_id=crm_user_id)
        session.add(link)
    elif link.platform_user_id not in (None, sender.user_id):
        log.info("employee %s moves from account %s to %s on bot %s", crm_user_id, link.platform_user_id,
                 sender.user_id, bot_id)
    link.platform_user_id = sender.user_id
    link.chat_id = sender.chat_id
    link.status = LinkStatus.BOUND
    link.bound_at = now
    link.last_message_at = now
    link.display_name = sender.name or link.display_name
    if link.language is None and normalise_language(sender.language) == "en":
        link.language = "en"  # notifications have no messenger profile to read it from later
    close_requests(session, bot_id, sender.chat_id, now)
    session.flush()
    log.info("bot %s: account %s bound to CRM user %s", bot_id, sender.user_id, crm_user_id)
    return link


def release(link: EmployeeLink) -> None:
    """Unbind: the row stays (an admin's role override and language survive), the account is forgotten."""
    link.platform_user_id = None
    link.chat_id = None
    link.status = LinkStatus.PENDING
    link.bound_at = None


# --- typed identities: codes and admin approval ---------------------------------------------------

def make_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def codes_sent_recently(session: Session, crm_user_id: int, now: datetime) -> int:
    return session.scalar(select(func.count(BindingRequest.id)).where(
        BindingRequest.crm_user_id == crm_user_id, BindingRequest.created_at > now - timedelta(hours=1))) or 0


def open_request(session: Session, bot_id: int, sender: Sender, crm_user_id: int, code: str,
                 now: datetime) -> BindingRequest:
    close_requests(session, bot_id, sender.chat_id, now)
    request = BindingRequest(bot_id=bot_id, crm_user_id=crm_user_id, platform_user_id=sender.user_id,
                             chat_id=sender.chat_id, code_hash=secret_hash(code), expires_at=now + CODE_TTL,
                             created_at=now)
    session.add(request)
    session.flush()
    return request


def close_requests(session: Session, bot_id: int, chat_id: str, now: datetime) -> None:
    session.execute(update(BindingRequest)
                    .where(BindingRequest.bot_id == bot_id, BindingRequest.chat_id == chat_id,
                           BindingRequest.closed_at.is_(None))
                    .values(closed_at=now).execution_options(synchronize_session=False))


class CodeCheck(str, enum.Enum):
    RIGHT = "right"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong codes: the request is closed
    EXPIRED = "expired"
    NONE = "none"  # no open request


def check_code(session: Session, request_id: int | None, sender: Sender, code: str,
               now: datetime) -> tuple[CodeCheck, BindingRequest | None]:
    request = session.get(BindingRequest, request_id, with_for_update=True) if request_id else None
    if (request is None or request.closed_at is not None or request.platform_user_id != sender.user_id
            or request.chat_id != sender.chat_id):
        return CodeCheck.NONE, None
    if request.expires_at <= now:
        request.closed_at = now
        return CodeCheck.EXPIRED, request
    if hmac.compare_digest(request.code_hash, secret_hash(code)):
        return CodeCheck.RIGHT, request
    request.attempts += 1
    if request.attempts >= MAX_WRONG_CODES:
        request.closed_at = now
        return CodeCheck.LOCKED, request
    return CodeCheck.WRONG, request


def approve_binding(session: Session, request_id: int, *, gateway: CrmGateway, settings: Settings,
                    now: datetime | None = None) -> EmployeeLink | None:
    """An admin approves a typed-identity request: the account is bound and told so.

    Returns the binding, or None when the request is closed, the employee is no longer active in the CRM, or
    blocked on that bot.
    """
    from .recipients import send_menu_invitation  # the reply texts live with the bot's other texts

    now = now or utcnow()
    request = session.get(BindingRequest, request_id, with_for_update=True)
    if request is None or request.closed_at is not None:
        return None
    user = gateway.get_user(request.crm_user_id)
    if user is None or not user.active:
        return None
    request.approved_at = now
    sender = Sender(user_id=request.platform_user_id, chat_id=request.chat_id)
    link = bind(session, request.bot_id, request.crm_user_id, sender, now)
    request.closed_at = now
    if link is None:
        return None
    chat = session.get(ChatState, (request.bot_id, request.chat_id))
    if chat is not None:
        chat.state, chat.data = "", {k: v for k, v in (chat.data or {}).items() if k.startswith("_")}
    send_menu_invitation(session, link, settings)
    return link
