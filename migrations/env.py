"""Alembic environment for the plugin's own tables.

It runs only through crm_plugin.migrate, which hands over a connection and the plugin's version table
(``crm_plugin_alembic_version``), so the host's own Alembic history is never touched.
"""

from __future__ import annotations

from alembic import context

from crm_plugin.core.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=config.attributes["version_table"],
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    include_name=lambda name, type_, _parent: type_ != "table" or bool(name and name.startswith("crm_plugin_")),
)
with context.begin_transaction():
    context.run_migrations()
