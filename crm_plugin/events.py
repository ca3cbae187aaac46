"""Listens to the host's blinker signals (crm_plugin.host) and hands them to the plugin's features.

The host sends each signal with its Flask app as the sender; an app without the plugin is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from blinker import NamedSignal
from flask import Flask

from . import host

log = logging.getLogger(__name__)

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = {}


def on(signal: NamedSignal) -> Callable[[Handler], Handler]:
    """Register ``handler(state, **kwargs)`` for a host signal."""

    def register(handler: Handler) -> Handler:
        _handlers.setdefault(signal.name, []).append(handler)
        return handler

    return register


def _dispatch(signal: NamedSignal) -> Handler:
    def receiver(sender: Any, **kwargs: Any) -> None:
        if not isinstance(sender, Flask) or "crm_plugin" not in sender.extensions:
            return
        log.info("host event %s %s", signal.name, kwargs)
        state = sender.extensions["crm_plugin"]
        with sender.app_context():
            for handler in _handlers.get(signal.name, []):
                handler(state, **kwargs)

    return receiver


_receivers = []
for _signal in (host.measurement_requested, host.installation_scheduled, host.job_changed, host.job_cancelled,
                host.lead_created):
    _receiver = _dispatch(_signal)
    _receivers.append(_receiver)  # blinker holds receivers weakly by default; keep them alive
    _signal.connect(_receiver)
