"""notification templates

Notification texts the company edits, and web-chat links kept apart as trial.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_notification_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event', 'language')
    )
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trial', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    # Links the web chat made before: try-outs too (the web bot has no other way to bind anyone).
    op.execute("UPDATE crm_plugin_employee_links SET trial = true WHERE bot_id IN "
               "(SELECT id FROM crm_plugin_bots WHERE platform = 'web')")


def downgrade() -> None:
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.drop_column('trial')
    op.drop_table('crm_plugin_notification_templates')
