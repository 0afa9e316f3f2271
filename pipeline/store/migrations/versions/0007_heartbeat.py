"""heartbeat

Revision ID: 0007_heartbeat
Revises: 0006_cursors
Create Date: 2026-12-06 09:00:00

The service's vital signs (last poll, last tick, the mail server's last failure on each side)
for `masp status` and `masp health`.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import pipeline.store.models


# revision identifiers, used by Alembic.
revision: str = '0007_heartbeat'
down_revision: Union[str, Sequence[str], None] = '0006_cursors'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('heartbeat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_poll_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.Column('last_tick_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.Column('mailbox_error_kind', sa.String(length=16), nullable=True),
    sa.Column('mailbox_error', sa.Text(), nullable=True),
    sa.Column('mailbox_error_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.Column('send_error_kind', sa.String(length=16), nullable=True),
    sa.Column('send_error', sa.Text(), nullable=True),
    sa.Column('send_error_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('heartbeat')
