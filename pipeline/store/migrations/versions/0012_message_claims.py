"""each ledgered email's sender and the worker filing it

Revision ID: 0012_message_claims
Revises: 0011_case_meeting_index
Create Date: 2026-12-05 11:20:00

Every worker files mail, not only the one polling the mailbox: a worker claims the emails it
files (`claimed_by`, `claimed_until`), and one sender's emails are filed in the order they
were received (`sender`). Emails ledgered before this revision have no sender recorded: they
are filed one after another, as they were before.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import pipeline.store.models


# revision identifiers, used by Alembic.
revision: str = '0012_message_claims'
down_revision: Union[str, Sequence[str], None] = '0011_case_meeting_index'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Plain ALTER TABLE, not batch mode: rebuilding `messages` on SQLite would drop the old
    # table under the rows that refer to it.
    op.add_column('messages', sa.Column('sender', sa.String(length=320), nullable=True))
    op.add_column('messages', sa.Column('claimed_by', sa.String(length=300), nullable=True))
    op.add_column(
        'messages',
        sa.Column('claimed_until', pipeline.store.models.UTCDateTime(), nullable=True),
    )
    op.create_index(op.f('ix_messages_sender'), 'messages', ['sender'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_messages_sender'), table_name='messages')
    # SQLite has had DROP COLUMN since 3.35 (2021); PostgreSQL always.
    op.execute('ALTER TABLE messages DROP COLUMN claimed_until')
    op.execute('ALTER TABLE messages DROP COLUMN claimed_by')
    op.execute('ALTER TABLE messages DROP COLUMN sender')
