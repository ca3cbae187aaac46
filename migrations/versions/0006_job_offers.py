"""job offers

Who was offered which free measurement request («Взять» in a notification or on the job's card). A late tap
on «Взять» tells who took the request only to them; anyone else gets the plain refusal a job that does not
exist gets, so a forged ``take:<id>`` learns nothing about other people's jobs. They are also the ones told
the request is gone when someone takes it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_plugin_job_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.BigInteger(), nullable=False),
    sa.Column('crm_user_id', sa.BigInteger(), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'crm_user_id')
    )


def downgrade() -> None:
    op.drop_table('crm_plugin_job_offers')
