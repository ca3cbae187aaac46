"""Webhook routes: one URL per bot. Thin: size limit, signature, parse, store, answer.

403 with nothing stored for a missing or wrong signature; 400 for a body the platform never sends, before or
after the signature check; 404 for a bot that does not exist (an id past the column's range too); a retried
update is acknowledged and not processed twice (crm_plugin.inbound.accept). Never a 500 for what a sender
sends: the parsers answer MalformedRequest for what they foresee, and a body that still breaks one is logged
with its traceback (a bug to fix) and answered 400.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import cast

from flask import Response, jsonify, request
from sqlalchemy.exc import DataError

from .. import inbound
from ..channels.base import MalformedRequest, WebhookRequest
from ..core.crypto import UnreadableCredentials
from ..core.models import Bot, Platform
from ..core.state import PluginState
from ..core.untrusted import clean_json, clean_text, load_json
from ..delivery.sender import ChannelCache
from .blueprint import blueprint
from .current import get_state

log = logging.getLogger(__name__)

MAX_BOT_ID = 2**31 - 1  # crm_plugin_bots.id is an INTEGER: a larger id is no bot (404), not a database error
RAW_TEXT_LIMIT = 10000  # characters of a body that is not JSON (Slack's form-encoded clicks) kept in the log


@blueprint.post(f"/webhook/<int(max={MAX_BOT_ID}):bot_id>")
def webhook(bot_id: int) -> Response | tuple[str, int]:
    state = get_state()
    request.max_content_length = state.settings.max_body_bytes  # larger bodies: 413 before reading
    body = request.get_data(cache=False)
    with state.db.read() as session:  # read-only: on SQLite it never waits for the worker's writes
        bot = session.get(Bot, bot_id)
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
