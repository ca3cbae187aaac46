"""Webhook routes: one URL per bot. Thin: size limit, signature, parse, store, answer.

403 with nothing stored for a missing or wrong signature; 400 for a body the platform never sends, before or
after the signature check; 404 for a bot that does not exist (an id past the column's range too); a retried
update is acknowledged and not processed twice (crm_plugin.inbound.accept). Never a 500 for what a sender
sends: the parsers answer MalformedRequest for what they foresee, and a body that still breaks one is logged
with its traceback (a bug to fix) and answered 400.

The bot's row is not read on every request: a process keeps each bot it served for BOT_ROW_TTL (``_BotRows``).
A bot switched off, deleted or given a new secret through this process's sessions (the admin, the CLI) is dropped
from it at their commit, so the very next request sees the change; a change made by another process (another web
worker's admin) is seen within BOT_ROW_TTL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, jsonify, request
from sqlalchemy import event
from sqlalchemy.exc import DataError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from .. import inbound
from ..channels.base import MalformedRequest, WebhookRequest
from ..core.crypto import UnreadableCredentials
from ..core.db import Database
from ..core.models import Bot, Platform
from ..core.state import PluginState
from ..core.untrusted import clean_json, clean_text, load_json
from ..delivery.sender import ChannelCache
from .blueprint import blueprint
from .current import get_state

log = logging.getLogger(__name__)

MAX_BOT_ID = 2**31 - 1  # crm_plugin_bots.id is an INTEGER: a larger id is no bot (404), not a database error
RAW_TEXT_LIMIT = 10000  # characters of a body that is not JSON (Slack's form-encoded clicks) kept in the log
# Seconds a bot's row read by the webhook is trusted before it is read again. This process's own changes drop it
# at once (their commit); another process's change (another web worker's admin) cannot be heard, so this is how
# late it may be seen: short for a bot switched off or given a new secret, yet a busy bot's updates share one read.
BOT_ROW_TTL = 1.0
_now = time.monotonic  # the cache's clock (a test moves its own)


@blueprint.post(f"/webhook/<int(max={MAX_BOT_ID}):bot_id>")
def webhook(bot_id: int) -> Response | tuple[str, int]:
    state = get_state()
    with state.webhooks.request():  # the worker thread of this process starts no bot turn meanwhile
        return _answer(state, bot_id)


def _answer(state: PluginState, bot_id: int) -> Response | tuple[str, int]:
    request.max_content_length = state.settings.max_body_bytes  # larger bodies: 413 before reading
    body = request.get_data(cache=False)
    bot = _bot_rows(state).get(bot_id)
    if bot is None or not bot.active or bot.platform == Platform.WEB:
        return "unknown bot", 404
    try:
        channel = _channels(state).get(bot).channel  # built and decrypted once per bot, not per update
    except UnreadableCredentials:  # the secret key changed: 503, so the platform delivers again once it is fixed
        log.error("bot %s: webhook refused (503): its credentials cannot be decrypted, the secret key changed; "
                  "put the old key into CRM_PLUGIN_OLD_SECRET_KEYS or type the bot's tokens again in the admin",
                  bot_id)
        return Response("bot credentials unreadable", status=503, headers={"Retry-After": "300"})
    webhook_request = WebhookRequest(cast("Mapping[str, str]", request.headers), body)  # case-insensitive
    try:
        if not channel.verify(webhook_request):
            log.warning("bot %s: webhook with a missing or wrong signature refused", bot_id)
            return "forbidden", 403
        parsed = channel.parse(webhook_request)
    except MalformedRequest as error:
        log.warning("bot %s: malformed webhook body: %s", bot_id, error)
        return "malformed request", 400
    except Exception:  # noqa: BLE001 - verify and parse are pure: what breaks them is the body, so 400
        log.exception("bot %s: a webhook body the channel did not foresee (answered 400)", bot_id)
        return "malformed request", 400
    try:
        inbound.accept(state, bot_id, parsed, raw=_raw_json(body, channel.secret_body_fields))
    except DataError:  # a value the database refuses: retrying the same body cannot help
        log.exception("bot %s: a webhook update the database refused (answered 400)", bot_id)
        return "unstorable request", 400
    if isinstance(parsed.response, dict):
        return jsonify(parsed.response)
    return Response(parsed.response or "", status=200, content_type="text/plain; charset=utf-8")


_cache_lock = threading.Lock()


def _channels(state: PluginState) -> ChannelCache:
    """The webhook's channels of this plugin state, one per bot, rebuilt when the bot's credentials, secret or
    API URL change (ChannelCache compares them on every request, so an edited bot is never served stale)."""
    with _cache_lock:
        cache = state.__dict__.get("_webhook_channels")
        if cache is None:
            cache = state.__dict__["_webhook_channels"] = ChannelCache(state)
        return cast(ChannelCache, cache)


def _bot_rows(state: PluginState) -> _BotRows:
    """The webhook's bot rows of this plugin state, made (and hooked to its sessions) on the first request."""
    with _cache_lock:
        rows = state.__dict__.get("_webhook_bot_rows")
        if rows is None:
            rows = state.__dict__["_webhook_bot_rows"] = _BotRows(state.db)
        return cast(_BotRows, rows)


@dataclass(frozen=True)
class _Cached:
    bot: Bot  # detached, never changed: only read (active, platform, and ChannelCache's fingerprint)
    read_at: float  # _now() before the read: the row is at least as fresh as this


_BOTS_WRITTEN = "crm_plugin_webhook_bots_written"  # session.info: ids of the bots the transaction wrote
_ALL_BOTS = "crm_plugin_webhook_all_bots_written"  # session.info: a bulk UPDATE or DELETE of bots (ids unknown)


class _BotRows:
    """The bots this process's webhook served, each trusted for BOT_ROW_TTL after it was read. Only bots that exist
    are kept (an id with no bot is read each time), so a stranger posting to made-up ids cannot grow it.

    Bots inserted, changed or deleted through the plugin's sessions (``Database.sessions``: the admin's, the CLI's)
    are dropped when that transaction commits. A read that overlapped such a commit may have seen the row before
    it: the generation, bumped by every drop, keeps it out of the cache."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[int, _Cached] = {}
        self._generation = 0
        self._lock = threading.Lock()
        _listen(db.sessions, self._after_commit)

    def get(self, bot_id: int) -> Bot | None:
        now = _now()
        with self._lock:
            cached = self._rows.get(bot_id)
            if cached is not None and now - cached.read_at < BOT_ROW_TTL:
                return cached.bot
            generation = self._generation
        with self._db.read() as session:  # read-only: on SQLite it never waits for the worker's writes
            bot = session.get(Bot, bot_id)
        with self._lock:
            if bot is None:
                self._rows.pop(bot_id, None)  # deleted by another process
            elif generation == self._generation:
                self._rows[bot_id] = _Cached(bot, now)
        return bot

    def forget(self, bot_ids: Iterable[int] | None) -> None:
        """Drop these bots (None: all) and keep out what reads under way bring back."""
        with self._lock:
            self._generation += 1
            if bot_ids is None:
                self._rows.clear()
            else:
                for bot_id in bot_ids:
                    self._rows.pop(bot_id, None)

    def __len__(self) -> int:
        return len(self._rows)

    def _after_commit(self, session: Session) -> None:
        everything = session.info.pop(_ALL_BOTS, False)
        written: set[int] = session.info.pop(_BOTS_WRITTEN, set())
        if everything or written:
            self.forget(None if everything else written)


def _listen(sessions: sessionmaker[Session], after_commit: Callable[[Session], None]) -> None:
    """Note in each session which bots its transaction writes, and call ``after_commit`` when it commits."""
    event.listen(sessions, "after_flush", _note_flushed_bots)
    event.listen(sessions, "do_orm_execute", _note_bulk_bot_writes)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_transaction_end", _forget_notes_of_rollback)


def _note_flushed_bots(session: Session, _flush_context: Any) -> None:
    # after_flush: new, dirty and deleted still list what the flush wrote, and new bots have their ids
    ids = {obj.id for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, Bot)}
    if ids:
        session.info.setdefault(_BOTS_WRITTEN, set()).update(ids)


def _note_bulk_bot_writes(execute_state: ORMExecuteState) -> None:
    if (execute_state.is_update or execute_state.is_delete) and any(
            mapper.class_ is Bot for mapper in execute_state.all_mappers):
        execute_state.session.info[_ALL_BOTS] = True


def _forget_notes_of_rollback(session: Session, transaction: SessionTransaction) -> None:
    # after_commit has taken the notes of a committed transaction; a root transaction that ends with notes left
    # was rolled back, and nothing it wrote is in the database
    if transaction.parent is None:
        session.info.pop(_BOTS_WRITTEN, None)
        session.info.pop(_ALL_BOTS, None)


def _raw_json(body: bytes, secret_fields: tuple[str, ...] = ()) -> dict[str, object]:
    """The update as the platform sent it, kept in the log for support (form-encoded Slack: as text), less
    the fields that carry a secret (VK's ``secret``), cleaned so every database stores it (no NUL, no lone
    surrogate, no NaN)."""
    try:
        value = load_json(body)
    except ValueError:
        return {"body": clean_text(body.decode("utf-8", "replace")[:RAW_TEXT_LIMIT])}
    if not isinstance(value, dict):
        return {"body": clean_json(value)}
    return cast("dict[str, object]", clean_json({k: v for k, v in value.items() if k not in secret_fields}))
