"""The ``flask crm-plugin`` command group."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from . import migrate
from .errors import PluginStartupError
from .extension import get_state

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


def fail_cleanly(error: PluginStartupError) -> None:
    """Print the one-line reason and exit 1: a start-up problem is not a traceback."""
    raise click.ClickException(str(error))


@cli.command("check", help="Check that the plugin can start: manifest, gateway, migrated database.")
@with_appcontext
def check() -> None:
    try:
        get_state().ensure_ready()
    except PluginStartupError as error:
        fail_cleanly(error)
    click.echo(f"crm_plugin {get_state().manifest.version} ready on {current_app.name}")
