"""field staff route

Field staff: the morning route's time and working days (one row), and a unique mark per person and company
day for each route sent, so several workers send it once.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_route_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('send_at', sa.String(length=5), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('crm_plugin_route_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('jobs', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('crm_user_id', 'day')
    )


def downgrade() -> None:
    op.drop_table('crm_plugin_route_sent')
    op.drop_table('crm_plugin_route_settings')
