"""outbox recipients: one row per exact address instead of a comma-separated string

Revision ID: 0002_outbox
Revises: 0001
Create Date: 2026-12-05 09:00:00

The comma string was matched with a substring LIKE by the rate fuse (so look-alike addresses
counted against a real one) and split on commas by the sender (so a quoted local part could
become a second recipient). Existing rows are split as the old sender split them: that is
what those emails were, or would have been, sent to.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002_outbox'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Read first: on SQLite a batch alteration copies the outbox into a new table and drops
    # the old one, which would cascade to recipient rows already written.
    connection = op.get_bind()
    rows: list[dict[str, object]] = []
    for outbox_id, joined in connection.execute(sa.text('SELECT id, recipients FROM outbox')):
        addresses = dict.fromkeys(a.strip().lower() for a in (joined or '').split(',') if a.strip())
        rows.extend({'outbox_id': outbox_id, 'address': a[:320]} for a in addresses)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('recipients')

    recipients = op.create_table('outbox_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outbox_id', 'address')
    )
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipients_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_recipients_outbox_id'), ['outbox_id'], unique=False)
    if rows:
        op.bulk_insert(recipients, rows)


def downgrade() -> None:
    """Downgrade schema."""
    connection = op.get_bind()
    joined: dict[int, list[str]] = {}
    query = sa.text('SELECT outbox_id, address FROM outbox_recipients ORDER BY id')
    for outbox_id, address in connection.execute(query):
        joined.setdefault(outbox_id, []).append(address)
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_outbox_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_address'))
    op.drop_table('outbox_recipients')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipients', sa.String(length=4000), nullable=False, server_default=''))
    for outbox_id, addresses in joined.items():
        connection.execute(
            sa.text('UPDATE outbox SET recipients = :r WHERE id = :i'),
            {'r': ', '.join(addresses)[:4000], 'i': outbox_id},
        )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('recipients', server_default=None)
