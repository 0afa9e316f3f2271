"""pack release

Revision ID: 0008_pack_release
Revises: 0007_heartbeat
Create Date: 2026-12-05 09:00:00

The administrator's release of a meeting's pack when `pack.release` is manual (R17).

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import pipeline.store.models


# revision identifiers, used by Alembic.
revision: str = '0008_pack_release'
down_revision: Union[str, Sequence[str], None] = '0007_heartbeat'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('pack_releases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('panel_id', sa.String(length=32), nullable=False),
    sa.Column('meeting', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('released_at', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('released_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('panel_id', 'meeting')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('pack_releases')
