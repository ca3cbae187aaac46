"""CrmPlugin: the Flask extension that mounts the plugin into a host CRM. It wires every layer together;
no module below imports it.

Per app: the settings, the database engine, the worker and the signal receivers belong to the app they
were made for, so a second app in the same process (tests, app factories) never sees the first one's rows.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, current_app

from . import events, host
from .bot.route import route_clock_tasks
from .bot.stats_schedules import stats_clock_tasks
from .channels.web import UploadStore
from .core.crypto import SecretBox, parse_old_keys
from .core.db import Database, plugin_database_url
from .core.errors import PluginStartupError
from .core.manifest import load_manifest
from .core.scrub import install_log_scrubbing
from .core.settings import load_settings
from .core.state import PluginState
from .delivery.charts import warm_renderer
from .delivery.clock import ClockTask
from .delivery.worker import Worker
from .inbound import handle_received
from .web import readiness
from .web.blueprint import blueprint  # importing it runs web/__init__, which adds the routes
from .web.current import EXTENSION_KEY, get_state

log = logging.getLogger(__name__)

READY_RETRY_SECONDS = 30.0  # how often a host request tries again to start a worker the database refused


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
        state = build_state(app, gateway or self.gateway)
        app.extensions[EXTENSION_KEY] = state
        install_log_scrubbing()

        from .admin import register_admin
        from .cli import cli

        app.register_blueprint(blueprint, url_prefix=state.settings.url_prefix)
        readiness.exempt_from_host_csrf(app, blueprint)
        register_admin(app, state)
        app.cli.add_command(cli)
        events.connect(app)
        if state.settings.worker == "thread":
            app.before_request(_start_embedded_worker)

    @staticmethod
    def state(app: Flask | None = None) -> PluginState:
        return get_state(app)


def build_state(app: Flask, gateway: host.CrmGateway | None) -> PluginState:
    """Check the gateway and every setting, then open the database: each problem is one line."""
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
    settings = load_settings(app.config, manifest)
    database_url = plugin_database_url(settings.database_url, app.config.get("SQLALCHEMY_DATABASE_URI"))
    if not database_url:
        raise PluginStartupError(
            "crm_plugin: no database; set CRM_PLUGIN_DATABASE_URL (or the host's SQLALCHEMY_DATABASE_URI)"
        )
    key = settings.secret_key or app.config.get("SECRET_KEY") or ""
    return PluginState(manifest=manifest, settings=settings, gateway=gateway,
                       db=Database(database_url, redis_url=settings.redis_url),
                       secrets=SecretBox(key, parse_old_keys(settings.old_secret_keys)), signing_key=str(key),
                       upload_dir=str(UploadStore.folder_of(app.instance_path)),
                       host_context=app.app_context)


def make_worker(app: Flask, **overrides: Any) -> Worker:
    """A delivery worker for this app's plugin: it runs the bot on incoming rows and sends outgoing ones."""
    state = get_state(app)
    overrides.setdefault("clock_tasks", clock_tasks(state))
    return Worker.from_settings(state, handle_received=handle_received, **overrides)


def clock_tasks(state: PluginState) -> list[ClockTask]:
    """What the worker runs on the clock (crm_plugin.delivery.clock): one line per feature."""
    return [
        *stats_clock_tasks(state),  # statistics: the admin's «Отправить сейчас» and the schedules
        *route_clock_tasks(state),  # the morning route of field staff
        ClockTask("chart renderer warm-up", warm_renderer, math.inf),  # statistics charts: a warm Chromium
    ]


def start_worker(app: Flask) -> Worker:
    """Start the embedded delivery thread for this app (once); PluginStartupError when the database is not
    ready for it."""
    state = get_state(app)
    with state._lock:
        if state.worker is None:
            state.ensure_ready()
            worker = make_worker(app)
            worker.start_thread()
            state.worker = worker
    assert isinstance(state.worker, Worker)
    return state.worker


def stop(app: Flask, timeout: float = 10.0) -> None:
    """Stop this app's worker and close its database connections (tests, app factories, shutdown)."""
    state = get_state(app)
    if state.worker is not None:
        state.worker.stop(timeout)
        state.worker = None
    events.disconnect(app)
    state.db.dispose()


def _start_embedded_worker() -> None:
    # Runs before each request; cheap after the first. A WSGI host has no other start-up hook. When the
    # plugin's tables are missing the host's pages still work: the problem is logged, and tried again later.
    state = get_state()
    if state.worker is not None:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = time.monotonic()
    if now < state.worker_retry_at:
        return
    try:
        start_worker(app)
    except PluginStartupError as error:
        state.worker_retry_at = now + READY_RETRY_SECONDS
        log.error("%s (the plugin's worker is not running; the CRM's own pages keep working)", error)
