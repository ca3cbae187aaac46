"""Delivering one claimed row: the channel, the rate limits, the platform call, and what its outcome means.

Outcomes of a send:
- success: SENT with the platform's message ids;
- 429 (``SendError.retry_after``): QUEUED again after retry_after (plus a little jitter), not a failed attempt;
  the chat is held that long in the limiter too; only a row older than ``max_age`` gives up;
- transient (5xx, time-out, dropped connection): exponential back-off 1, 2, 4 ... s (capped at 5 min,
  with jitter), FAILED after ``max_attempts``;
- permanent (400 chat not found, a reply that cannot be rendered): FAILED at once, the error kept;
- unreachable (the person blocked the bot): FAILED and their EmployeeLink becomes UNREACHABLE.
Error texts are scrubbed of the bot's credentials before they are stored or logged.

Incoming rows (``handle``: the bot, a lead, a stored host event) are settled by ``handle_received`` itself,
failures included. What it raises is work to do again, retried like a send: a SendError with ``retry_after``
after that wait (not an attempt), ``RetryLater`` after the delay it names, anything else (a 5xx or dropped
connection of a profile lookup or a file download, the CRM's database away) with back-off, FAILED after
``max_attempts``, when the admin can send it again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..channels import channel_for
from ..channels.base import Channel, SendError
from ..channels.registry import api_url
from ..core.chat import MediaReply, Reply, reply_from_dict
from ..core.models import Bot, EmployeeLink, LinkStatus, Message, MessageStatus, utcnow
from ..core.scrub import scrub, secret_values
from ..core.state import PluginState
from . import claim
from .files import CachedFileStore
from .ratelimit import Limit, RateLimiter
from .round_trips import RoundTrips

log = logging.getLogger(__name__)

ALBUM_SIZE = 10  # files in one album call: a media reply costs one send per started ten
LATE = 0.002  # seconds past its rate-limit slot after which a send moves the next slots back
RETRY_LATER_LIMIT = 50  # RetryLater of one row: FAILED after this many, whatever its raiser meant


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 8  # transient failures before a row is FAILED
    backoff_base: float = 1.0  # seconds before the first retry; doubles each time
    backoff_cap: float = 300.0
    max_age: float = 86_400.0  # a row still rate-limited after a day gives up
    max_hold: float = 0.5  # longest a sender waits for a rate-limit slot; longer: the row is put back
    rate_margin: float = 0.93  # a little under the platform's limits: its clock and our threads' timing differ
    per_chat_rate: float | None = None  # overrides the channel's (tests; platforms that allow more)

    def backoff(self, attempts: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.8, 1.2)


class RetryLater(Exception):
    """Not done, not failed: handle this incoming row again in ``delay`` seconds. Each time counts in the row's
    ``attempts``, which the raiser reads to decide when to stop (a host event whose job is not visible yet)."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass
class _Entry:
    fingerprint: tuple[str, str | None, str | None]
    channel: Channel
    secrets: list[str]


class ChannelCache:
    """One channel per bot, rebuilt when the bot's credentials, secret or API URL change."""

    def __init__(self, state: PluginState) -> None:
        self.state = state
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, bot: Bot) -> _Entry:
        fingerprint = (bot.credentials_encrypted, bot.webhook_secret, api_url(self.state, bot.platform))
        with self._lock:
            entry = self._entries.get(bot.id)
            if entry is None or entry.fingerprint != fingerprint:
                credentials = self.state.secrets.open(bot.credentials_encrypted)
                entry = _Entry(fingerprint, channel_for(self.state, bot),
                               secret_values(credentials, bot.webhook_secret))
                self._entries[bot.id] = entry
            return entry

    def secrets_of(self, bot_id: int) -> list[str]:
        entry = self._entries.get(bot_id)
        return entry.secrets if entry else []


class ClaimHandler:
    """Sends claimed outgoing rows and runs the bot on claimed incoming ones (one row per call)."""

    def __init__(self, state: PluginState, worker_id: str, limiter: RateLimiter, policy: Policy,
                 on_reschedule: Callable[[datetime], None],
                 handle_received: Callable[[PluginState, int], bool] | None) -> None:
        self.state = state
        self.worker_id = worker_id
        self.limiter = limiter
        self.policy = policy
        self.channels = ChannelCache(state)
        self.round_trips = RoundTrips(limiter)
        self.on_reschedule = on_reschedule
        # Set by the worker: it writes SENT outcomes in its next claim's transaction, one commit for many.
        self.settle_sent: Callable[[int, dict[str, Any]], None] | None = None
        self.handle_received = handle_received

    # --- outgoing ------------------------------------------------------------------------------------
    def send(self, message: Message, bot: Bot | None) -> None:
        if bot is None or not bot.active:
            self._fail(message, "the bot is switched off or deleted; switch it on and send again")
            return
        try:
            reply = reply_from_dict(message.payload)
            entry = self.channels.get(bot)
        except Exception as error:  # noqa: BLE001 - a bad row or undecryptable credentials: no retry helps
            self._fail(message, f"cannot prepare the message: {error}", bot.id)
            return
        limits = self._limits(entry.channel, bot.id, message.chat_id)
        asked = time.monotonic()
        reservation = self.limiter.reserve(limits, max_wait=self.policy.max_hold, cost=_cost(reply))
        if not reservation.granted:
            # Our own pacing, not an attempt. Due a little before the slot: claimed again then, the row waits
            # out the rest here and goes at the slot itself, not a claim's round trip after it.
            self._later(message, max(0.0, reservation.wait - self.policy.max_hold / 2), error=None)
            return
        if reservation.wait > 0:
            time.sleep(reservation.wait)
        if time.monotonic() - (asked + reservation.wait) > LATE:
            # Late for the slot (a busy machine, a slow answer from Redis): count the send from now under each
            # limit, so the slots after it keep their spacing and the platform never sees more than its limit
            # in any window.
            self.limiter.sent_now(limits)
        try:
            # The row's id is the message key: every retry of this row carries it (VK's random_id).
            files = self._files(bot.id)
            went = time.monotonic()
            try:
                platform_ids = entry.channel.send(message.chat_id, reply, files, message_key=message.id)
            finally:
                self.round_trips.answered(bot.id, limits, time.monotonic() - went)
        except SendError as error:
            self._send_failed(message, error, limits, entry.secrets)
        except (ValueError, TypeError) as error:  # the reply cannot be rendered for this platform
            self._fail(message, scrub(f"{type(error).__name__}: {error}", entry.secrets), bot.id)
        except Exception as error:  # noqa: BLE001 - unknown: retried like a transient failure
            text = scrub("".join(traceback.format_exception(error)), entry.secrets)
            log.error("message %s: unexpected error while sending\n%s", message.id, text)
            self._retry(message, scrub(f"{type(error).__name__}: {error}", entry.secrets))
        else:
            self._settle(message.id, {"platform_ids": platform_ids, "now": utcnow(), "note": files.chart_note})

    def _settle(self, message_id: int, outcome: dict[str, Any]) -> None:  # outcome's note: a chart left behind
        if self.settle_sent is not None:
            self.settle_sent(message_id, outcome)  # the worker writes it with its next claim
            return
        with self.state.db.session() as session:
            settle_sent(session, message_id, self.worker_id, outcome)

    def _limits(self, channel: Channel, bot_id: int, chat_id: str) -> list[Limit]:
        margin = self.policy.rate_margin
        per_chat = self.policy.per_chat_rate or channel.per_chat_rate
        # One Redis hash tag per bot, so every key of one reservation lives in one cluster slot.
        limits = [Limit(f"{{bot{bot_id}}}:chat:{chat_id}", per_chat * margin), self.bot_limit(channel, bot_id)]
        group_rate = channel.group_rate(chat_id)
        if group_rate:
            limits.append(Limit(f"{{bot{bot_id}}}:group:{chat_id}", group_rate * margin))
        return limits

    def bot_limit(self, channel: Channel, bot_id: int) -> Limit:
        """The whole bot's limit (the second of ``_limits``): the worker checks it before claiming."""
        return Limit(f"{{bot{bot_id}}}:bot", channel.per_bot_rate * self.policy.rate_margin)

    def _files(self, bot_id: int) -> CachedFileStore:
        return CachedFileStore(self.state.db, self.state.gateway, bot_id, settings=self.state.settings,
                               signing_key=self.state.signing_key)

    def _send_failed(self, message: Message, error: SendError, limits: list[Limit], secrets: list[str]) -> None:
        text = scrub(str(error), secrets)
        if error.retry_after is not None:
            # Hold this chat (and group) that long. Not the whole bot: our own pacing keeps it under its limit,
            # and one refused request (a clock skew between us and the platform) must not stall a broadcast.
            self.limiter.block([limit for limit in limits if not limit.key.endswith(":bot")], error.retry_after)
            self._rate_limited(message, error.retry_after, text)
        elif error.unreachable:
            log.info("message %s: chat %s is unreachable: %s", message.id, message.chat_id, text)
            self._fail(message, text, unreachable=True)
        elif error.permanent:
            log.warning("message %s failed: %s", message.id, text)
            self._fail(message, text)
        else:
            self._retry(message, text)

    def _rate_limited(self, message: Message, retry_after: float, text: str) -> None:
        """The platform said wait (429): due again after that, not an attempt; a row still waiting after
        ``max_age`` gives up."""
        age = (utcnow() - message.created_at).total_seconds()
        if age > self.policy.max_age:
            self._fail(message, f"still rate-limited after {age / 3600:.0f} h: {text}")
            return
        log.info("message %s: rate-limited by the platform, again in %.1f s", message.id, retry_after)
        self._later(message, retry_after + random.uniform(0.05, 0.25), error=text)

    def _later(self, message: Message, delay: float, *, error: str | None, attempts: int | None = None) -> None:
        at = utcnow() + timedelta(seconds=delay)
        with self.state.db.session() as session:
            claim.reschedule(session, message.id, self.worker_id, status=_waiting(message), at=at, error=error,
                             attempts=attempts)
        self.on_reschedule(at)

    def _retry(self, message: Message, error: str) -> None:
        attempts = message.attempts + 1
        if attempts >= self.policy.max_attempts:
            log.warning("message %s failed after %d attempts: %s", message.id, attempts, error)
            self._fail(message, error, attempts=attempts)
            return
        at = utcnow() + timedelta(seconds=self.policy.backoff(attempts))
        log.info("message %s: attempt %d failed (%s); again at %s", message.id, attempts, error, at.isoformat())
        with self.state.db.session() as session:
            claim.reschedule(session, message.id, self.worker_id, status=_waiting(message), at=at, attempts=attempts,
                             error=error)
        self.on_reschedule(at)

    def _fail(self, message: Message, error: str, bot_id: int | None = None, *, attempts: int | None = None,
              unreachable: bool = False) -> None:
        error = scrub(error, self.channels.secrets_of(bot_id or message.bot_id))[:2000]
        with self.state.db.session() as session:
            claim.mark_failed(session, message.id, self.worker_id, error=error, attempts=attempts)
            if unreachable:
                _mark_unreachable(session, message)

    # --- incoming ------------------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        assert self.handle_received is not None
        try:
            if self.handle_received(self.state, message.id):
                return  # settled, claim and all, in the work's own transaction
        except Exception as error:  # noqa: BLE001 - work to do again (see the module's notes)
            self._handle_again(message, error)
            return
        with self.state.db.session() as session:
            row = session.get(Message, message.id)
            if row is not None and row.claimed_by == self.worker_id:
                row.claimed_by = row.claimed_until = None
                if row.status is MessageStatus.RECEIVED:  # returned without error, yet left unmarked
                    row.status = MessageStatus.HANDLED

    def _handle_again(self, message: Message, error: Exception) -> None:
        secrets = self.channels.secrets_of(message.bot_id)  # known once the bot has sent anything
        text = scrub(f"{type(error).__name__}: {error}", secrets)
        if isinstance(error, RetryLater):
            if message.attempts + 1 >= RETRY_LATER_LIMIT:  # a raiser that never stops: not forever
                self._fail(message, text, attempts=message.attempts + 1)
                return
            log.info("message %s: %s; again in %.2f s", message.id, error, error.delay)
            self._later(message, error.delay, error=text, attempts=message.attempts + 1)
            return
        if isinstance(error, SendError) and error.retry_after is not None:
            self._rate_limited(message, error.retry_after, text)
            return
        if isinstance(error, SendError):  # a platform call failed on the way (5xx, time-out): expected, no trace
            log.warning("message %s: %s", message.id, text)
        else:  # e.g. the database or the CRM went away
            log.error("message %s: the bot failed\n%s", message.id,
                      scrub("".join(traceback.format_exception(error)), secrets))
        self._retry(message, text)


def settle_sent(session: Session, message_id: int, worker_id: str, outcome: dict[str, Any]) -> None:
    """Mark a row SENT with ``outcome`` (``claim.mark_sent``'s keywords)."""
    if not claim.mark_sent(session, message_id, worker_id, **outcome):
        log.warning("message %s was sent, but its claim had lapsed to another worker", message_id)


def _waiting(message: Message) -> MessageStatus:
    """The status a claimed row waits in until it is due again: RECEIVED for incoming rows, else QUEUED."""
    return MessageStatus.RECEIVED if message.status is MessageStatus.RECEIVED else MessageStatus.QUEUED


def _mark_unreachable(session: Session, message: Message) -> None:
    which = EmployeeLink.chat_id == message.chat_id
    if message.link_id is not None:
        which = or_(EmployeeLink.id == message.link_id, which)
    for link in session.scalars(select(EmployeeLink).where(EmployeeLink.bot_id == message.bot_id, which)):
        link.status = LinkStatus.UNREACHABLE


def _cost(reply: Reply) -> int:
    if isinstance(reply, MediaReply):
        return max(1, (len(reply.files) + ALBUM_SIZE - 1) // ALBUM_SIZE)
    return 1
