"""The host's blinker signals (crm_plugin.host) become the plugin's notifications, per app.

The host sends each signal with its Flask app as the sender; ``connect(app)`` listens to that sender only,
so a second app in the process never gets the first one's events. A failing handler is logged and never
raised into the host's request: the CRM's own save must not fail because a bot could not be told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blinker import NamedSignal
from flask import Flask

from . import host
from .bot import notifications
from .web.current import get_state

log = logging.getLogger(__name__)

Handler = Callable[..., None]
HANDLERS: dict[NamedSignal, Handler] = {
    host.measurement_requested: notifications.on_measurement_requested,
    host.installation_scheduled: notifications.on_installation_scheduled,
    host.job_changed: notifications.on_job_changed,
    host.job_cancelled: notifications.on_job_cancelled,
}

_RECEIVERS = "crm_plugin.signal_receivers"


def connect(app: Flask) -> None:
    """Listen to this app's host signals (blinker holds receivers weakly: the app keeps them alive)."""
    receivers = [(signal, _receiver(app, signal.name, handler)) for signal, handler in HANDLERS.items()]
    for signal, receiver in receivers:
        signal.connect(receiver, sender=app)
    app.extensions[_RECEIVERS] = receivers


def disconnect(app: Flask) -> None:
    for signal, receiver in app.extensions.pop(_RECEIVERS, []):
        signal.disconnect(receiver, sender=app)


def _receiver(app: Flask, name: str, handler: Handler) -> Callable[..., None]:
    def receive(sender: Any, **kwargs: Any) -> None:
        log.info("host event %s %s", name, kwargs)
        try:
            with app.app_context():
                handler(get_state(app), **kwargs)
        except Exception:  # noqa: BLE001 - never into the host's request; the log says what was lost
            log.exception("crm_plugin: host event %s %s was not turned into messages", name, kwargs)

    return receive
