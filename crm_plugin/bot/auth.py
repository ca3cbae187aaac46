"""Guests: everyone whose account is not bound yet. They bind by sharing their own phone, by an invite link,
or by typing their login, email or phone and then the code the CRM sent them."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from ..core.chat import Button, Contact, Start, Text
from ..host import User
from ..phones import format_phone, normalise_phone
from . import binding, labels
from .binding import CodeCheck, InviteProblem
from .context import Context
from .menu import show_menu
from .payloads import ShareContactFallback
from .router import Router

log = logging.getLogger(__name__)

router = Router("auth", guests=True)

AWAIT_CODE = "await_code"
MAX_IDENTITIES_PER_HOUR = 10  # typed logins/emails/phones per chat
_TRIES_KEY = "_identity_tries"
_CODE_RE = re.compile(r"^\d{6}$")
# What people type to start a chat (VK's "Начать" button sends a text): a greeting, not a login.
GREETINGS = frozenset({"начать", "старт", "start", "привет", "здравствуйте", "hi", "hello", "меню", "menu",
                       "help", "помощь"})


def welcome(ctx: Context, intro: str | None = None) -> None:
    t = ctx.t
    text = t("Hello! This is the bot for the company's measurers and installers. To start, tap "
             "“%(button)s” or type your login, email or phone number from the CRM.", button=t(labels.SHARE_PHONE))
    ctx.say(f"{intro}\n\n{text}" if intro else text, [[Button.share_contact(t(labels.SHARE_PHONE))]])


def complete_binding(ctx: Context, user: User) -> None:
    link = binding.bind(ctx.session, ctx.turn.bot.id, user.id, ctx.sender, ctx.now)
    if link is None:
        ctx.say(ctx.t("Your access to the bot has been blocked by an administrator."))
        return
    ctx.become(link, user)
    ctx.clear_state()
    show_menu(ctx, ctx.t("Done! You are signed in as %(name)s.", name=user.full_name))


def _active(users: list[User]) -> list[User]:
    return [u for u in users if u.active]


@router.start()
def on_start(ctx: Context) -> None:
    assert isinstance(ctx.event, Start)
    token = (ctx.event.payload or "").strip()
    if not token:
        welcome(ctx)
        return
    result = binding.redeem_invite(ctx.session, ctx.turn.bot, token, ctx.now)
    if isinstance(result, InviteProblem):
        problems = {
            InviteProblem.UNKNOWN: ctx.t("This invitation link is not valid."),
            InviteProblem.USED: ctx.t("This invitation link has already been used. Ask the administrator for "
                                      "a new one."),
            InviteProblem.EXPIRED: ctx.t("This invitation link has expired. Ask the administrator for a new one."),
        }
        welcome(ctx, problems[result])
        return
    user = ctx.gateway.get_user(result.crm_user_id)
    if user is None or not user.active:
        welcome(ctx, ctx.t("The employee of this invitation is not active in the CRM."))
        return
    complete_binding(ctx, user)


@router.event(Contact)
def on_contact(ctx: Context) -> None:
    assert isinstance(ctx.event, Contact)
    t = ctx.t
    if not ctx.event.own:
        ctx.say(t("This is someone else's contact. Tap “%(button)s” to send your own number.",
                  button=t(labels.SHARE_PHONE)), [[Button.share_contact(t(labels.SHARE_PHONE))]])
        return
    phone = normalise_phone(ctx.event.phone)
    if phone is None:
        ctx.say(t("The messenger sent a phone number I cannot read. Type your login or email instead."))
        return
    users = [u for u in _active(ctx.gateway.find_users(phone)) if normalise_phone(u.phone) == phone]
    if not users:
        ctx.say(t("The number %(phone)s is not found among active CRM employees. Check the phone in your CRM "
                  "profile, or type your login or email.", phone=format_phone(phone)))
        return
    if len(users) > 1:
        ctx.say(t("The number %(phone)s belongs to several employees. Type your login or email instead.",
                  phone=format_phone(phone)))
        return
    complete_binding(ctx, users[0])


@router.state(AWAIT_CODE, Text)
def on_code(ctx: Context) -> None:
    assert isinstance(ctx.event, Text)
    code = ctx.event.text.replace(" ", "").strip()
    if not _CODE_RE.match(code):
        on_identity(ctx)  # they typed a login again, or something else: start over with it
        return
    t = ctx.t
    result, request = binding.check_code(ctx.session, ctx.data.get("request_id"), ctx.sender, code, ctx.now)
    if result is CodeCheck.RIGHT and request is not None:
        user = ctx.gateway.get_user(request.crm_user_id)
        if user is None or not user.active:
            ctx.clear_state()
            ctx.say(t("Your CRM account is disabled. Contact the administrator."))
            return
        complete_binding(ctx, user)
        return
    if result is CodeCheck.WRONG and request is not None:
        left = binding.MAX_WRONG_CODES - request.attempts
        ctx.say(t("Wrong code. Attempts left: %(left)d.", left=left))
        return
    ctx.clear_state()
    if result is CodeCheck.LOCKED:
        ctx.say(t("Too many wrong codes; the request is closed. Type your login, email or phone to get a new "
                  "code."))
    elif result is CodeCheck.EXPIRED:
        ctx.say(t("The code has expired. Type your login, email or phone to get a new one."))
    else:
        welcome(ctx)


@router.fallback(Text)
def on_identity(ctx: Context) -> None:
    assert isinstance(ctx.event, Text)
    identity = ctx.event.text.strip()
    t = ctx.t
    if not identity or identity.startswith("/") or len(identity) > 200 or identity.casefold() in GREETINGS:
        welcome(ctx)
        return
    if not _count_try(ctx):
        ctx.say(t("Too many attempts. Try again in an hour or ask the administrator to bind your account."))
        return
    users = _active(ctx.gateway.find_users(identity))
    if not users:
        ctx.say(t("No active employee with the login, email or phone “%(identity)s”. Check it and type it "
                  "again.", identity=identity[:100]), [[Button.share_contact(t(labels.SHARE_PHONE))]])
        return
    if len(users) > 1:
        ctx.say(t("Several employees match “%(identity)s”. Type your login instead.", identity=identity[:100]))
        return
    user = users[0]
    if binding.is_blocked(ctx.session, ctx.turn.bot.id, user.id):
        ctx.say(t("Your access to the bot has been blocked by an administrator."))
        return
    if ctx.turn.settings.trust_typed_identity:
        complete_binding(ctx, user)
        return
    if binding.codes_sent_recently(ctx.session, user.id, ctx.now) >= binding.MAX_CODES_PER_IDENTITY_HOUR:
        ctx.say(t("Too many codes were requested for this employee. Try again in an hour or ask the "
                  "administrator to bind your account."))
        return
    code = binding.make_code()
    request = binding.open_request(ctx.session, ctx.turn.bot.id, ctx.sender, user.id, code, ctx.now)
    ctx.gateway.send_login_code(user.id, code)
    ctx.set_state(AWAIT_CODE, request_id=request.id)
    ctx.say(t("I have sent a 6-digit code to %(name)s through the CRM. Type it here. An administrator can also "
              "confirm your account instead.", name=user.full_name))


@router.button(ShareContactFallback)
def on_share_phone_unavailable(ctx: Context) -> None:
    # VK has no "share my phone" button: its stand-in asks for the phone typed instead.
    ctx.say(ctx.t("This messenger cannot share your number with a tap. Type your phone number, login or email "
                  "from the CRM, and I will send you a confirmation code."))


@router.fallback()
def on_anything_else(ctx: Context) -> None:
    welcome(ctx)


def _count_try(ctx: Context) -> bool:
    """Record one typed identity; False when the chat has used up its tries for the last hour."""
    since = ctx.now - timedelta(hours=1)
    tries = [s for s in ctx.data.get(_TRIES_KEY, []) if datetime.fromisoformat(s) > since]
    if len(tries) >= MAX_IDENTITIES_PER_HOUR:
        return False
    ctx.update_data(**{_TRIES_KEY: [*tries, ctx.now.isoformat()]})
    return True
