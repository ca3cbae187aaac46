"""One incoming event through the bot: who is writing, may they, and which handler answers."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select

from ..core.chat import TextReply
from ..core.i18n import N_, pick_language, translator
from ..core.models import EmployeeLink, LinkStatus
from ..core.settings import Settings
from . import admin_filter, attendance, auth, jobs, lead_offers, loose_files, menu, reports, staff_admin, stats
from .context import Context, load_chat_state
from .router import Dispatcher
from .turn import Turn

log = logging.getLogger(__name__)

_REFUSED_ALBUM = "_refused_album"  # the album already answered with a refusal
APOLOGY = N_("Something went wrong with your message. Please try again a little later.")

# Built once: every turn of a caller that did not look the row up runs it.
_LINK = select(EmployeeLink).where(EmployeeLink.bot_id == bindparam("bot_id"),
                                   EmployeeLink.platform_user_id == bindparam("user_id"))

dispatcher = Dispatcher()
dispatcher.include(auth.router, attendance.router, reports.router, loose_files.router, jobs.router,
                   admin_filter.router, staff_admin.router, stats.router, lead_offers.router, menu.router)


def handle(turn: Turn) -> None:
    """Answer one event; runs inside the caller's transaction (turn.session), replies go to the outbox."""
    sender = turn.inbound.sender
    if sender.is_group:
        if not stats.refuse_in_group(turn):  # figures go to private chats only: asking for them gets a refusal
            log.debug("bot %s: group message in %s ignored by the staff bot", turn.bot.id, sender.chat_id)
        return
    link = _link_of(turn)
    user = None
    if link is not None and link.status is LinkStatus.BLOCKED:
        _refuse(turn, link, N_("Your access to the bot has been blocked by an administrator."))
        return
    if link is not None and link.status in (LinkStatus.BOUND, LinkStatus.UNREACHABLE):
        user = turn.crm_user(link.crm_user_id)
        if user is None or not user.active:
            _refuse(turn, link, N_("Your CRM account is disabled. Contact the administrator."))
            return
        link.status = LinkStatus.BOUND  # writing to us proves the bot is reachable again
        link.chat_id = sender.chat_id
        link.last_message_at = turn.now
        if sender.name and link.display_name != sender.name:
            link.display_name = sender.name
        turn.link = link
    else:
        link = None  # an unbound row (released or prepared by an admin) does not make a member
        turn.link = None
    ctx = Context(turn, load_chat_state(turn.session, turn.bot.id, sender.chat_id), user, link)
    if not dispatcher.dispatch(ctx):
        log.warning("bot %s: no handler for %s", turn.bot.id, type(turn.inbound.event).__name__)


def _link_of(turn: Turn) -> EmployeeLink | None:
    """The sender's row on this bot. The worker looks it up before the turn (inbound.receive) and hands it over
    in ``turn.link``: that row is taken as it is rather than read again, and so is its absence when
    ``turn.link_looked_up`` says the worker found none."""
    given, user_id = turn.link, turn.inbound.sender.user_id
    if given is not None and given.bot_id == turn.bot.id and given.platform_user_id == user_id:
        return given
    if given is None and turn.link_looked_up:
        return None
    return turn.session.scalars(_LINK, {"bot_id": turn.bot.id, "user_id": user_id}).first()


def _refuse(turn: Turn, link: EmployeeLink, msgid: str) -> None:
    """Blocked people and CRM-inactive users get only this, at every message (once per album)."""
    turn.link = link
    album = getattr(turn.inbound.event, "media_group_id", None)
    if album:
        chat = load_chat_state(turn.session, turn.bot.id, turn.inbound.sender.chat_id)
        if chat.data.get(_REFUSED_ALBUM) == album:
            return
        chat.data = {**chat.data, _REFUSED_ALBUM: album}
    t = translator(pick_language(link.language, turn.inbound.sender.language, turn.settings.language))
    turn.reply(TextReply(t(msgid)))


def apology(link_language: str | None, sender_language: str | None, settings: Settings) -> TextReply:
    """What a person is told when handling their message crashed: in their language, with no details (those
    are in the log and on the message's row)."""
    return TextReply(translator(pick_language(link_language, sender_language, settings.language))(APOLOGY))
