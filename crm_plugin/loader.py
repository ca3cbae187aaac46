"""WordPress-style plugin discovery for a Flask CRM host.

Installed plugins declare a setuptools entry point in the group ``crm.plugins`` (crm_plugin declares
``crm_plugin = crm_plugin:CrmPlugin``). The host finds them, activates and deactivates them, and the state is
kept in the table ``crm_plugins``, which the plugin's migration 0003 creates (``flask crm-plugin db upgrade``)
and its downgrade to base drops: no table appears outside a migration, where the host's autogenerate would
find it unowned.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, String, Table, inspect, select

from .core.errors import PluginStartupError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "crm.plugins"

_metadata = MetaData()
# The shape migrations/versions/0003 creates; only read and written here, never created.
plugins_table = Table(
    "crm_plugins", _metadata,
    Column("slug", String(100), primary_key=True),
    Column("active", Boolean, nullable=False, default=False),
    Column("version", String(50)),
    Column("changed_at", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class PluginInfo:
    slug: str
    version: str
    active: bool
    entry_point: importlib.metadata.EntryPoint


class UnknownPlugin(LookupError):
    pass


class PluginRegistry:
    """Installed plugins and which of them are active, for one database: the one the plugin's migrations
    ran on (the host's own database; on a SQLite host file, the plugin's sibling file, see
    crm_plugin.core.db.plugin_database_url)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if not inspect(engine).has_table(plugins_table.name):
            where = engine.url.render_as_string(hide_password=True)
            raise PluginStartupError(f"crm_plugin: the plugin registry table {plugins_table.name} is missing in "
                                     f"{where}; run `flask crm-plugin db upgrade` on this database")

    @staticmethod
    def discover() -> dict[str, importlib.metadata.EntryPoint]:
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}

    def plugins(self) -> list[PluginInfo]:
        with self.engine.connect() as connection:
            active = dict(connection.execute(select(plugins_table.c.slug, plugins_table.c.active)).all())
        return [
            PluginInfo(slug, ep.dist.version if ep.dist else "?", bool(active.get(slug, False)), ep)
            for slug, ep in sorted(self.discover().items())
        ]

    def set_active(self, slug: str, active: bool) -> PluginInfo:
        info = next((p for p in self.plugins() if p.slug == slug), None)
        if info is None:
            raise UnknownPlugin(f"no installed plugin {slug!r}; installed: {', '.join(self.discover()) or 'none'}")
        values = {"active": active, "version": info.version, "changed_at": datetime.now(timezone.utc)}
        with self.engine.begin() as connection:
            updated = connection.execute(plugins_table.update().where(plugins_table.c.slug == slug).values(**values))
            if updated.rowcount == 0:
                connection.execute(plugins_table.insert().values(slug=slug, **values))
        log.info("plugin %s %s", slug, "activated" if active else "deactivated")
        return PluginInfo(slug, info.version, active, info.entry_point)

    def load_active(self, app: Flask, **options: dict[str, Any]) -> list[Any]:
        """Mount every active plugin on the app; ``options[slug]`` are keyword arguments for its class."""
        mounted = []
        for info in self.plugins():
            if info.active:
                plugin_class = info.entry_point.load()
                mounted.append(plugin_class(app, **options.get(info.slug, {})))
        return mounted


def registry_cli(engine_of: Any) -> click.Group:
    """A ``flask crm-plugins`` group for the host: list, activate, deactivate.
    ``engine_of(app)`` returns the host's SQLAlchemy engine."""

    @click.group("crm-plugins", help="Installed CRM plugins: list, activate, deactivate.")
    def group() -> None:
        pass

    def registry() -> PluginRegistry:
        from flask import current_app

        return PluginRegistry(engine_of(current_app))

    @group.command("list")
    @with_appcontext
    def list_command() -> None:
        for info in registry().plugins():
            click.echo(f"{info.slug} {info.version} {'active' if info.active else 'inactive'}")

    for name, active in (("activate", True), ("deactivate", False)):
        @group.command(name)
        @click.argument("slug")
        @with_appcontext
        def change(slug: str, active: bool = active, name: str = name) -> None:
            try:
                registry().set_active(slug, active)
            except UnknownPlugin as error:
                raise click.ClickException(str(error)) from None
            click.echo(f"{slug} {name}d; restart the CRM to apply")

    return group
