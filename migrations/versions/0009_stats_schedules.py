"""stats schedules

Statistics sends: instant sends with their progress, schedules, and one row per schedule and due time (fires once).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_stats_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('weekdays', sa.String(length=32), nullable=False),
    sa.Column('month_day', sa.Integer(), nullable=True),
    sa.Column('time', sa.String(length=5), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('people', sa.Text(), nullable=False),
    sa.Column('skip_empty', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('crm_plugin_stats_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.BigInteger(), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('renders', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['crm_plugin_stats_schedules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'due_at')
    )
    op.create_index('ix_crm_plugin_stats_runs_status', 'crm_plugin_stats_runs', ['status'])
    op.create_table('crm_plugin_stats_run_messages',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['crm_plugin_messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['crm_plugin_stats_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'message_id')
    )
    op.create_index('ix_crm_plugin_stats_run_messages_message_id', 'crm_plugin_stats_run_messages',
                    ['message_id'])


def downgrade() -> None:
    op.drop_index('ix_crm_plugin_stats_run_messages_message_id', table_name='crm_plugin_stats_run_messages')
    op.drop_table('crm_plugin_stats_run_messages')
    op.drop_index('ix_crm_plugin_stats_runs_status', table_name='crm_plugin_stats_runs')
    op.drop_table('crm_plugin_stats_runs')
    op.drop_table('crm_plugin_stats_schedules')
