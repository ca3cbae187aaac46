"""Webhook routes: one URL per bot. Thin: size limit, signature, parse, store, answer.

403 with nothing stored for a missing or wrong signature; 400 for a body the platform never sends; a
retried update is acknowledged and not processed twice (crm_plugin.inbound.accept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import cast

from flask import Response, jsonify, request

from .. import inbound
from ..channels import channel_for
from ..channels.base import MalformedRequest, WebhookRequest
from ..core.models import Bot, Platform
from .blueprint import blueprint
from .current import get_state

log = logging.getLogger(__name__)


@blueprint.post("/webhook/<int:bot_id>")
def webhook(bot_id: int) -> Response | tuple[str, int]:
    state = get_state()
    request.max_content_length = state.settings.max_body_bytes  # larger bodies: 413 before reading
    body = request.get_data(cache=False)
    with state.db.session() as session:
        bot = session.get(Bot, bot_id)
    if bot is None or not bot.active or bot.platform == Platform.WEB:
        return "unknown bot", 404
    channel = channel_for(state, bot)
    webhook_request = WebhookRequest(cast("Mapping[str, str]", request.headers), body)  # case-insensitive
    try:
        if not channel.verify(webhook_request):
            log.warning("bot %s: webhook with a missing or wrong signature refused", bot_id)
            return "forbidden", 403
        parsed = channel.parse(webhook_request)
    except MalformedRequest as error:
        log.warning("bot %s: malformed webhook body: %s", bot_id, error)
        return "malformed request", 400
    inbound.accept(state, bot_id, parsed, raw=_raw_json(body))
    if isinstance(parsed.response, dict):
        return jsonify(parsed.response)
    return Response(parsed.response or "", status=200, content_type="text/plain; charset=utf-8")


def _raw_json(body: bytes) -> dict[str, object]:
    """The update as the platform sent it, kept in the log for support (form-encoded Slack: as text)."""
    try:
        value = json.loads(body)
    except ValueError:
        return {"body": body.decode("utf-8", "replace")[:10000]}
    return value if isinstance(value, dict) else {"body": value}
