"""column lengths

Every column a stranger's value reaches was checked against the platforms' documented limits (issue 11):

- ids (chat, sender, bot): 64 characters. Telegram's user and chat ids fit int64 (at most 20 characters
  with the sign), VK's ids int64 too (peer ids of group chats from 2,000,000,000), Viber's user ids are
  base64 of about 24 characters, Slack's user and channel ids about 11.
- dedupe keys and platform message ids: 128. Telegram ``update_id`` and Viber ``message_token`` are int64,
  VK ``event_id`` a 40-character hex string, Slack ``event_id`` about 11 characters, an action's ``ts`` 17.
- the message log's preview: 500, a summary; the whole text (Telegram: up to 4096) and caption (up to
  1024) are in the payload, so the preview is cut there and marked with "…".
- names: 200 (Telegram's first and last name are 64 each; a VK community name 48; a Viber bot name 28).

Values past these lengths cannot come from a platform, but a row must never fail on them: the models' column
types cut free text and store an over-long id as ``sha256:`` and its hash (crm_plugin.core.models). They need
no schema change. What does: a platform's file id, opaque with no documented length (Telegram ``file_id``),
becomes ``text``.

SQLite does not enforce a ``varchar`` length, and changing a column's type there means copying the table,
so the change is made on the other databases only.

The raw updates kept in the log lose the secrets they carried (the webhook no longer stores them): VK's
Callback API ``secret`` and Slack's verification ``token``, both at the top of every body.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _enforces_lengths() -> bool:
    return op.get_bind().dialect.name != 'sqlite'


SECRET_FIELDS = {'vk': 'secret', 'slack': 'token'}  # what each platform's body carries at its top
BATCH = 500


def upgrade() -> None:
    if _enforces_lengths():
        op.alter_column('crm_plugin_file_cache', 'platform_file_id', type_=sa.Text(),
                        existing_type=sa.String(length=300), existing_nullable=False)
    _strip_stored_secrets()


def _strip_stored_secrets() -> None:
    bind = op.get_bind()
    bots = sa.table('crm_plugin_bots', sa.column('id', sa.Integer), sa.column('platform', sa.String))
    messages = sa.table('crm_plugin_messages', sa.column('id', sa.BigInteger), sa.column('bot_id', sa.Integer),
                        sa.column('direction', sa.String), sa.column('payload', sa.JSON))
    for platform, secret in SECRET_FIELDS.items():
        ids = bind.execute(
            sa.select(messages.c.id).join(bots, bots.c.id == messages.c.bot_id)
            .where(bots.c.platform == platform, messages.c.direction == 'in',
                   sa.cast(messages.c.payload, sa.Text).like(f'%"{secret}"%'))).scalars().all()
        for start in range(0, len(ids), BATCH):
            rows = bind.execute(sa.select(messages.c.id, messages.c.payload)
                                .where(messages.c.id.in_(ids[start:start + BATCH]))).all()
            for message_id, payload in rows:
                raw = payload.get('raw') if isinstance(payload, dict) else None
                if isinstance(raw, dict) and secret in raw:
                    cleaned = {**payload, 'raw': {k: v for k, v in raw.items() if k != secret}}
                    bind.execute(messages.update().where(messages.c.id == message_id).values(payload=cleaned))


def downgrade() -> None:
    if _enforces_lengths():
        op.execute(sa.text("DELETE FROM crm_plugin_file_cache WHERE length(platform_file_id) > 300"))  # re-uploaded
        op.alter_column('crm_plugin_file_cache', 'platform_file_id', type_=sa.String(length=300),
                        existing_type=sa.Text(), existing_nullable=False)
