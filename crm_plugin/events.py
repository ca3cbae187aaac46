"""The host's blinker signals (crm_plugin.host) become the plugin's notifications, per app.

The host sends each signal with its Flask app as the sender; ``connect(app)`` listens to that sender only,
so a second app in the process never gets the first one's events. A failing handler is logged and never
raised into the host's request: the CRM's own save must not fail because a bot could not be told.

The receiver runs inside the CRM's request, so it never waits: when the CRM's job is not visible yet (a signal
sent before the CRM's commit) or anything fails, the event is stored and the worker tries again
(crm_plugin.bot.host_events). Hosts should still send a signal after their commit, as README says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blinker import NamedSignal
from flask import Flask

from . import host
from .bot import host_events, notifications
from .web.current import get_state

log = logging.getLogger(__name__)

# The signals the plugin listens to: those the bot turns into messages (crm_plugin.bot.notifications).
SIGNALS: list[NamedSignal] = [host.signals.signal(name) for name in notifications.NOTIFIERS]

_RECEIVERS = "crm_plugin.signal_receivers"


def connect(app: Flask) -> None:
    """Listen to this app's host signals (blinker holds receivers weakly: the app keeps them alive)."""
    receivers = [(signal, _receiver(app, signal.name)) for signal in SIGNALS]
    for signal, receiver in receivers:
        signal.connect(receiver, sender=app)
    app.extensions[_RECEIVERS] = receivers


def disconnect(app: Flask) -> None:
    for signal, receiver in app.extensions.pop(_RECEIVERS, []):
        signal.disconnect(receiver, sender=app)


def _receiver(app: Flask, name: str) -> Callable[..., None]:
    def receive(sender: Any, **kwargs: Any) -> None:
        log.info("host event %s %s", name, kwargs)
        try:
            with app.app_context():
                host_events.deliver(get_state(app), name, kwargs)
        except Exception:  # noqa: BLE001 - never into the host's request; the log says what was lost
            log.exception("crm_plugin: host event %s %s was not turned into messages now (stored for the worker "
                          "to try again, unless storing it failed too)", name, kwargs)

    return receive
