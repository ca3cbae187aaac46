"""plugin registry table

The host's registry of installed plugins (crm_plugin.loader.PluginRegistry): which are active, at which
version. It used to be made by ``create_all`` when the registry was first used, outside any migration, so
the host's own autogenerate saw a table nobody owned; now this migration creates it and the downgrade to
base drops it with the plugin's own tables.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table('crm_plugins'):
        return  # made by an earlier loader's create_all: keep it and the host's choices in it
    op.create_table('crm_plugins',
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('slug')
    )


def downgrade() -> None:
    op.drop_table('crm_plugins')
