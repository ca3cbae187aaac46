"""webhook secret digests

``crm_plugin_bots.webhook_secret`` held each bot's webhook secret in clear. The plugin only compares it with
what the platform sends (Telegram's X-Telegram-Bot-Api-Secret-Token header, the ``secret`` of a VK Callback
event), so the column now holds ``sha256:<hex>`` of the secret (crm_plugin.core.crypto.webhook_secret_digest)
and the comparison is made between digests. Hashing needs no key: every stored secret is converted here, and
the platforms keep sending the same secret, so no webhook has to be set again.

The downgrade cannot give the secrets back: it leaves the digests, and the code before this revision refuses
webhooks until each bot's webhook is set again (save the bot, or «Инфо» → set the webhook).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PREFIX = "sha256:"  # crm_plugin.core.crypto.WEBHOOK_DIGEST_PREFIX, copied: a migration keeps its own facts

bots = sa.table('crm_plugin_bots', sa.column('id', sa.Integer), sa.column('webhook_secret', sa.String(128)))


def _is_digest(value: str) -> bool:
    rest = value.removeprefix(PREFIX)
    return rest != value and len(rest) == 64 and all(c in "0123456789abcdef" for c in rest)


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(bots.c.id, bots.c.webhook_secret)
                              .where(bots.c.webhook_secret.is_not(None))).all()
    for bot_id, secret in rows:
        if not secret or _is_digest(secret):
            continue
        digest = PREFIX + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
        connection.execute(sa.update(bots).where(bots.c.id == bot_id).values(webhook_secret=digest))


def downgrade() -> None:
    pass  # a digest cannot be turned back into its secret (see above)
