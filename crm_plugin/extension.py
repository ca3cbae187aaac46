"""CrmPlugin: the Flask extension that mounts the plugin into a host CRM."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from . import host
from .crypto import SecretBox
from .db import Database, plugin_database_url
from .errors import PluginStartupError
from .manifest import Manifest, load_manifest
from .migrate import ensure_migrated

log = logging.getLogger(__name__)

EXTENSION_KEY = "crm_plugin"


@dataclass
class PluginState:
    """Everything the plugin keeps per app, in ``app.extensions["crm_plugin"]``."""

    manifest: Manifest
    gateway: host.CrmGateway
    db: Database
    secrets: SecretBox
    config: dict[str, Any]
    worker: Any = None  # crm_plugin.delivery.worker.Worker once started
    _ready: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def setting(self, key: str) -> Any:
        return self.config[f"CRM_PLUGIN_{key}"]

    def ensure_ready(self) -> None:
        """Check the database once; raises PluginStartupError with the fix when it is not migrated."""
        if not self._ready:
            ensure_migrated(self.db.engine, self.manifest)
            self._ready = True


class CrmPlugin:
    """The plugin, as a Flask extension::

        plugin = CrmPlugin(gateway=MyCrmGateway())
        plugin.init_app(app)
    """

    def __init__(self, app: Flask | None = None, *, gateway: host.CrmGateway | None = None) -> None:
        self.gateway = gateway
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, gateway: host.CrmGateway | None = None) -> None:
        gateway = gateway or self.gateway
        if gateway is None:
            raise PluginStartupError(
                "crm_plugin: no gateway to the CRM; create the plugin as CrmPlugin(app, gateway=YourGateway()) "
                "(README, 'Install into an existing CRM')"
            )
        if not isinstance(gateway, host.CrmGateway):
            raise PluginStartupError(
                f"crm_plugin: {type(gateway).__name__} does not implement crm_plugin.host.CrmGateway; "
                "add the missing methods"
            )
        manifest = load_manifest()
        for key, default in manifest.defaults().items():
            app.config.setdefault(key, default)
        database_url = plugin_database_url(app.config["CRM_PLUGIN_DATABASE_URL"],
                                           app.config.get("SQLALCHEMY_DATABASE_URI"))
        if not database_url:
            raise PluginStartupError(
                "crm_plugin: no database; set CRM_PLUGIN_DATABASE_URL (or the host's SQLALCHEMY_DATABASE_URI)"
            )
        state = PluginState(
            manifest=manifest,
            gateway=gateway,
            db=Database(database_url),
            secrets=SecretBox(app.config["CRM_PLUGIN_SECRET_KEY"] or app.config.get("SECRET_KEY") or ""),
            config=app.config,
        )
        app.extensions[EXTENSION_KEY] = state

        from .admin import register_admin
        from .cli import cli
        from . import media, webhooks  # noqa: F401  (they add their routes to the blueprint)
        from . import webchat_routes  # noqa: F401  (the web chat's JSON API)
        from .blueprint import blueprint

        app.register_blueprint(blueprint, url_prefix=app.config["CRM_PLUGIN_URL_PREFIX"])
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            # Messengers prove themselves by signature, and the web chat checks its own CSRF header.
            csrf.exempt(blueprint)
        register_admin(app, state)
        app.cli.add_command(cli)
        if app.config["CRM_PLUGIN_WORKER"] == "thread":
            app.before_request(_start_embedded_worker)

    @staticmethod
    def state(app: Flask | None = None) -> PluginState:
        return get_state(app)


def get_state(app: Flask | None = None) -> PluginState:
    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise PluginStartupError("crm_plugin is not initialised on this app; call CrmPlugin(app, gateway=...)") from None


def start_worker(app: Flask) -> Any:
    """Start the embedded delivery thread for this app (once)."""
    state = get_state(app)
    with state._lock:
        if state.worker is None:
            state.ensure_ready()
            from .delivery.worker import Worker

            state.worker = Worker.for_app(app)
            state.worker.start_thread()
    return state.worker


def _start_embedded_worker() -> None:
    # Runs before each request; cheap after the first. A WSGI host has no other start-up hook.
    state = get_state()
    if state.worker is None:
        start_worker(current_app._get_current_object())  # type: ignore[attr-defined]
