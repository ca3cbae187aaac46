"""channel leads

Leads from channels: captured posts and messages with their parsing and status, per-bot lead settings.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_lead_settings',
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('vk_events', sa.String(length=200), nullable=False),
    sa.Column('slack_channels', sa.JSON(), nullable=False),
    sa.Column('auto_reply', sa.Boolean(), nullable=False),
    sa.Column('auto_reply_text', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bot_id')
    )
    op.create_table('crm_plugin_lead_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.BigInteger(), nullable=False),
    sa.Column('crm_user_id', sa.BigInteger(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lead_id', 'crm_user_id')
    )
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscribed_leads', sa.Boolean(), server_default=sa.text('true'),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.drop_column('subscribed_leads')
    op.drop_table('crm_plugin_lead_offers')
    op.drop_table('crm_plugin_lead_settings')
