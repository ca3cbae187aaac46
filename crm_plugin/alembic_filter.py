"""Keeps the plugin's tables out of the host's own Alembic autogenerate.

The plugin's tables (``crm_plugin_*``), its version table (``crm_plugin_alembic_version``) and the plugin
registry (``crm_plugins``) are made and dropped by ``flask crm-plugin db upgrade|downgrade``. The host's
metadata does not know them, so without this filter ``flask db migrate`` writes a ``drop_table`` for each.
With Flask-Migrate::

    from crm_plugin.alembic_filter import include_name
    Migrate(app, db, include_name=include_name)

or, in a plain Alembic ``env.py``: ``context.configure(..., include_name=include_name)``.
It imports nothing of the plugin, so it loads without the plugin's app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLUGIN_TABLE_PREFIX = "crm_plugin_"  # every table of the plugin, and its version table
REGISTRY_TABLE = "crm_plugins"  # the plugin registry (crm_plugin.loader), made by the plugin's migration 0003


def is_plugin_table(name: str | None) -> bool:
    return bool(name) and (name == REGISTRY_TABLE or str(name).startswith(PLUGIN_TABLE_PREFIX))


def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """Alembic's ``include_name`` hook: skips the plugin's tables before they are even reflected."""
    if type_ == "table":
        return not is_plugin_table(name)
    if type_ in ("column", "index", "unique_constraint", "foreign_key_constraint"):
        return not is_plugin_table(parent_names.get("table_name"))
    return True


def include_object(object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook, for an env.py that filters objects rather than names."""
    if type_ == "table":
        return not is_plugin_table(name)
    table = getattr(object, "table", None)
    return not is_plugin_table(getattr(table, "name", None))
