"""workers

Revision ID: 0010_workers
Revises: 0009_web_users
Create Date: 2026-12-05 08:10:00

Several `masp run` workers on one database: an outbox email's lease (the worker sending it
holds it until then), and which worker polls the mailbox (in the heartbeat).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import pipeline.store.models


# revision identifiers, used by Alembic.
revision: str = '0010_workers'
down_revision: Union[str, Sequence[str], None] = '0009_web_users'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ALTER TABLE, not batch mode: rebuilding `outbox` on SQLite would drop the old
    # table, and with it (ON DELETE CASCADE) every outbox_recipients row.
    op.add_column(
        'outbox', sa.Column('claimed_until', pipeline.store.models.UTCDateTime(), nullable=True)
    )
    op.add_column('heartbeat', sa.Column('poller', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # SQLite has had DROP COLUMN since 3.35 (2021); PostgreSQL always.
    op.execute('ALTER TABLE heartbeat DROP COLUMN poller')
    op.execute('ALTER TABLE outbox DROP COLUMN claimed_until')
