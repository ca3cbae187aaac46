"""The plugin's state of the running Flask app, for the Flask edge (routes, admin views, CLI, host signals)."""

from __future__ import annotations

from flask import Flask, current_app

from ..core.errors import PluginStartupError
from ..core.state import PluginState

EXTENSION_KEY = "crm_plugin"


def get_state(app: Flask | None = None) -> PluginState:
    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise PluginStartupError("crm_plugin is not initialised on this app; call CrmPlugin(app, gateway=...)") from None
