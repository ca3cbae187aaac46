"""Applies the plugin's Alembic migrations with a version table of its own."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table
from sqlalchemy.exc import SQLAlchemyError

from .errors import PluginStartupError
from .manifest import Manifest


def _config(manifest: Manifest, connection: object | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(manifest.migrations_path))
    config.attributes["version_table"] = manifest.version_table
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, manifest: Manifest, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(_config(manifest, connection), revision)


def downgrade(engine: Engine, manifest: Manifest, revision: str = "base") -> None:
    """Down to ``revision``; at base the version table goes too (Alembic keeps it, empty), so an uninstall
    leaves nothing of the plugin in the host's database."""
    with engine.begin() as connection:
        command.downgrade(_config(manifest, connection), revision)
        context = MigrationContext.configure(connection, opts={"version_table": manifest.version_table})
        if context.get_current_revision() is None:
            Table(manifest.version_table, MetaData()).drop(connection, checkfirst=True)


def current_revision(engine: Engine, manifest: Manifest) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": manifest.version_table})
        return context.get_current_revision()


def head_revision(manifest: Manifest) -> str | None:
    return ScriptDirectory.from_config(_config(manifest)).get_current_head()


def ensure_migrated(engine: Engine, manifest: Manifest) -> None:
    """Stop start-up with one line when the database is unreachable or the plugin's tables are missing or
    behind."""
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine, manifest)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:300]
        raise PluginStartupError(f"crm_plugin: cannot reach the database {where} ({reason}); check "
                                 "CRM_PLUGIN_DATABASE_URL or the host's SQLALCHEMY_DATABASE_URI") from None
    head = head_revision(manifest)
    if current != head:
        raise PluginStartupError(
            f"crm_plugin: the database {where} is at plugin revision "
            f"{current or 'none'}, the code needs {head}; run `flask crm-plugin db upgrade`"
        )
