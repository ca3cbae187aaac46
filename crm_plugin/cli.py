"""The ``flask crm-plugin`` command group."""

from __future__ import annotations

import gc
import logging
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from .core import migrate
from .core.state import PluginState
from .delivery.worker import Worker
from .inbound import handle_received
from .web.current import get_state

log = logging.getLogger(__name__)


@click.group("crm-plugin", help="Messenger bots for the CRM: migrations, worker, polling.")
def cli() -> None:
    pass


@cli.group("db", help="The plugin's own tables (version table crm_plugin_alembic_version).")
def db() -> None:
    pass


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    state = get_state()
    migrate.upgrade(state.db.engine, state.manifest, revision)
    click.echo(f"crm_plugin tables at revision {migrate.current_revision(state.db.engine, state.manifest)}")


@db.command("downgrade")
@click.argument("revision", default="base")
@with_appcontext
def db_downgrade(revision: str) -> None:
    state = get_state()
    migrate.downgrade(state.db.engine, state.manifest, revision)
    click.echo(f"crm_plugin tables at revision {migrate.current_revision(state.db.engine, state.manifest) or 'none'}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    state = get_state()
    current = migrate.current_revision(state.db.engine, state.manifest)
    click.echo(f"{current or 'none'} (head {migrate.head_revision(state.manifest)})")


def ready_state_for_service() -> PluginState:
    """The plugin's state for a long-running command: stops with one line when it cannot start, and logs
    to stderr when the host set up no logging."""
    state = get_state()
    state.ensure_ready()  # a PluginStartupError prints its one line and exits 1
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # What the process built at start lives as long as it does: frozen, the garbage collector's full collections
    # stop walking it (about 130,000 objects: each full collection paused every thread for 60-80 ms).
    gc.freeze()
    return state


@cli.command("check", help="Check that the plugin can start: manifest, gateway, migrated database.")
@with_appcontext
def check() -> None:
    get_state().ensure_ready()  # a PluginStartupError prints its one line and exits 1
    click.echo(f"crm_plugin {get_state().manifest.version} ready on {current_app.name}")


@cli.command("worker", help="Deliver the outbox and run the bot on incoming messages until SIGTERM/SIGINT. "
                            "Run several (on several hosts) with PostgreSQL; share rate limits with "
                            "CRM_PLUGIN_REDIS_URL.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Sender threads (CRM_PLUGIN_WORKER_CONCURRENCY, default 8).")
@click.option("--turns", type=click.IntRange(1, 64), default=None,
              help="Bot turns at once, out of the sender threads (CRM_PLUGIN_WORKER_TURNS, default 2).")
@click.option("--lease", type=click.FloatRange(1), default=None,
              help="Seconds a claimed row stays ours; a crashed worker's rows are retried after it "
                   "(CRM_PLUGIN_WORKER_LEASE, default 60).")
@click.option("--poll", type=click.FloatRange(0.05), default=None,
              help="Seconds between looks for rows written by other processes (CRM_PLUGIN_WORKER_POLL, default 1).")
@with_appcontext
def worker(concurrency: int | None, turns: int | None, lease: float | None, poll: float | None) -> None:
    state = ready_state_for_service()
    options = {name: value for name, value in (("concurrency", concurrency), ("turns", turns), ("lease", lease),
                                               ("poll", poll)) if value is not None}
    state.worker = worker = Worker.from_settings(state, handle_received=handle_received, **options)
    _lower_priority(state.settings.worker_nice)
    if state.settings.redis_url is None:
        log.warning("rate limits are this worker's own: with several worker processes set CRM_PLUGIN_REDIS_URL, "
                    "or together they may send a bot's messages faster than its platform allows (answers 429)")
    click.echo(f"crm_plugin worker {worker.id} started; stop it with Ctrl+C or SIGTERM")
    worker.run_forever()


def _lower_priority(nice: int) -> None:
    """The platforms wait for the webhook's answers; a bot turn can wait. On a machine shared with the web server
    the worker yields the CPU to it, as the embedded worker thread yields to the webhook's requests (InFlight)."""
    if nice and hasattr(os, "nice"):  # not on Windows
        log.info("worker runs at niceness %d (CRM_PLUGIN_WORKER_NICE)", os.nice(nice))


@cli.command("poll", help="Receive Telegram and VK updates by long polling and Slack events by Socket Mode "
                          "(bots with an App-Level Token), for an install without a public URL (it removes the "
                          "Telegram webhook). The worker answers them.")
@click.option("--timeout", type=click.IntRange(1, 50), default=25, help="Seconds of one long poll.")
@with_appcontext
def poll(timeout: int) -> None:
    import signal

    from .inbound.polling import Poller

    state = ready_state_for_service()
    poller = Poller(state, timeout=timeout)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: poller.stop())
    poller.run_forever()
