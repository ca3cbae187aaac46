"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-11-21 05:04:51.841509
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_access_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('crm_user_id')
    )
    op.create_table('crm_plugin_bots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.Enum('telegram', 'vk', 'viber', 'slack', 'web', name='platform', native_enum=False, length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('platform_bot_id', sa.String(length=64), nullable=True),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('credentials_encrypted', sa.Text(), nullable=False),
    sa.Column('webhook_secret', sa.String(length=128), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('leads_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('crm_plugin_settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('crm_plugin_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('start_latitude', sa.Float(), nullable=True),
    sa.Column('start_longitude', sa.Float(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_latitude', sa.Float(), nullable=True),
    sa.Column('end_longitude', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('crm_plugin_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_plugin_attendance_crm_user_id'), ['crm_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_crm_plugin_attendance_started_at'), ['started_at'], unique=False)

    op.create_table('crm_plugin_binding_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.Integer(), nullable=False),
    sa.Column('platform_user_id', sa.String(length=64), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('crm_plugin_binding_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_plugin_binding_requests_crm_user_id'), ['crm_user_id'], unique=False)

    op.create_table('crm_plugin_chat_states',
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bot_id', 'chat_id')
    )
    op.create_table('crm_plugin_employee_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.Integer(), nullable=False),
    sa.Column('platform_user_id', sa.String(length=64), nullable=True),
    sa.Column('chat_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('bound', 'pending', 'blocked', 'unreachable', name='linkstatus', native_enum=False, length=16), nullable=False),
    sa.Column('role_override', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('subscribed_stats', sa.Boolean(), nullable=False),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bot_id', 'crm_user_id'),
    sa.UniqueConstraint('bot_id', 'platform_user_id')
    )
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_plugin_employee_links_crm_user_id'), ['crm_user_id'], unique=False)

    op.create_table('crm_plugin_file_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('crm_file_id', sa.Integer(), nullable=False),
    sa.Column('platform_file_id', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bot_id', 'crm_file_id')
    )
    op.create_table('crm_plugin_inbound_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bot_id', 'dedupe_key')
    )
    with op.batch_alter_table('crm_plugin_inbound_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crm_plugin_inbound_keys_received_at'), ['received_at'], unique=False)

    op.create_table('crm_plugin_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('crm_user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('crm_plugin_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bot_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, length=8), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('preview', sa.String(length=500), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('received', 'handled', 'queued', 'sending', 'sent', 'failed', name='messagestatus', native_enum=False, length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('platform_message_id', sa.String(length=128), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bot_id'], ['crm_plugin_bots.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['link_id'], ['crm_plugin_employee_links.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('crm_plugin_messages', schema=None) as batch_op:
        batch_op.create_index('ix_crm_plugin_messages_chat', ['bot_id', 'chat_id', 'id'], unique=False)
        batch_op.create_index('ix_crm_plugin_messages_created', ['created_at'], unique=False)
        batch_op.create_index('ix_crm_plugin_messages_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_crm_plugin_messages_link_id'), ['link_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('crm_plugin_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_plugin_messages_link_id'))
        batch_op.drop_index('ix_crm_plugin_messages_due')
        batch_op.drop_index('ix_crm_plugin_messages_created')
        batch_op.drop_index('ix_crm_plugin_messages_chat')

    op.drop_table('crm_plugin_messages')
    op.drop_table('crm_plugin_invites')
    with op.batch_alter_table('crm_plugin_inbound_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_plugin_inbound_keys_received_at'))

    op.drop_table('crm_plugin_inbound_keys')
    op.drop_table('crm_plugin_file_cache')
    with op.batch_alter_table('crm_plugin_employee_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_plugin_employee_links_crm_user_id'))

    op.drop_table('crm_plugin_employee_links')
    op.drop_table('crm_plugin_chat_states')
    with op.batch_alter_table('crm_plugin_binding_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_plugin_binding_requests_crm_user_id'))

    op.drop_table('crm_plugin_binding_requests')
    with op.batch_alter_table('crm_plugin_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_plugin_attendance_started_at'))
        batch_op.drop_index(batch_op.f('ix_crm_plugin_attendance_crm_user_id'))

    op.drop_table('crm_plugin_attendance')
    op.drop_table('crm_plugin_settings')
    op.drop_table('crm_plugin_bots')
    op.drop_table('crm_plugin_access_grants')
