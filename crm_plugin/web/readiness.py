"""A plugin problem never takes the host down.

While the plugin's tables are missing or behind (or its database is away), the plugin's own routes answer
503 with a Russian page that says what to run, and the log gets one line; the host's pages are untouched.
Webhooks get the same 503, so the platforms deliver the update again later.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, render_template

from ..core.errors import PluginStartupError
from .current import get_state

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60.0  # one line a minute, not one per request
_last_logged: dict[str, float] = {}


def refuse_unless_ready() -> Response | None:
    """Before each of the plugin's own requests: None when the plugin can serve it."""
    state = get_state()
    try:
        state.ensure_ready()
    except PluginStartupError as error:
        _log_once(str(error))
        page = render_template("crm_plugin/not_ready.html")
        return Response(page, status=503, headers={"Retry-After": "60"})
    return None


def exempt_from_host_csrf(app: Flask, blueprint: Blueprint) -> None:
    """Messengers prove themselves by signature and the web chat checks its own X-CSRFToken header, so the
    host's global CSRFProtect must not check the plugin's blueprint. The host may set CSRFProtect up after
    the plugin: then the exemption is made at its first request, before CSRFProtect's own check runs."""
    if _exempt(app, blueprint):
        return

    def exempt_late() -> None:
        _exempt(app, blueprint)

    app.before_request_funcs.setdefault(None, []).insert(0, exempt_late)


def _exempt(app: Flask, blueprint: Blueprint) -> bool:
    csrf = app.extensions.get("csrf")
    if csrf is None:
        return False
    csrf.exempt(blueprint)
    return True


def _log_once(problem: str) -> None:
    now = time.monotonic()
    if now - _last_logged.get(problem, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _last_logged[problem] = now
        log.error("%s; the plugin's pages and webhooks answer 503 until then", problem)
