"""The tab's 403 and 404 pages: Russian (or the admin's language), saying what happened and where to go back.

Flask's own pages say «Forbidden» in English. Each plugin view's blueprint gets these handlers before it is
registered, so they answer only for the plugin's pages; an unknown address under the tab's URL gets the 404
page too, and every other address keeps the host's own handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import BuildError

from .i18n import t

CODES = (403, 404)


def error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return render_template("crm_plugin/error.html", code=code, t=t, home=_home(), back=_back()), code


def _home() -> str:
    try:
        return url_for("crm_plugin_dashboard.index")
    except BuildError:  # the manifest left the overview out
        return "/"


def _back() -> str | None:
    """The page the admin came from, when it is on this site (never an outside address)."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    return referrer if parts.netloc == request.host and referrer != request.url else None


def handle_unknown_addresses(app: Flask, prefix: str) -> None:
    """404 for an address under ``prefix`` (the tab's URL) that no view has: the plugin's page; any other
    address: the handler the host had, or Flask's."""
    previous: Callable[[Any], Any] | None = app.error_handler_spec.get(None, {}).get(404, {}).get(NotFound)

    def not_found(error: NotFound) -> Any:
        if request.path.startswith(prefix):
            return error_page(error)
        return previous(error) if previous is not None else error

    app.register_error_handler(404, not_found)
