"""an index on each case's meeting

Revision ID: 0011_case_meeting_index
Revises: 0010_workers
Create Date: 2026-12-05 09:15:00

The board counts the cases of every meeting still to come (`cases.meeting > now`): with the
index it reads those cases only, not every case the service ever had.

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0011_case_meeting_index'
down_revision: Union[str, Sequence[str], None] = '0010_workers'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_meeting'), ['meeting'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_meeting'))
