"""pending messages index

A partial index over the messages still to deliver or handle, so the worker's per-chat order check
("is an older message of this chat still pending?") reads only pending rows, not a chat's whole history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PENDING = "status IN ('received', 'queued', 'sending')"


def upgrade() -> None:
    op.create_index('ix_crm_plugin_messages_pending', 'crm_plugin_messages', ['bot_id', 'chat_id', 'id'],
                    unique=False, sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index('ix_crm_plugin_messages_pending', table_name='crm_plugin_messages')
