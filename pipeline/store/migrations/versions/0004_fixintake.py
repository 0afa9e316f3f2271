"""cases.sender_email: the From address of a referral whose answers went to its Reply-To (R5)

Revision ID: 0004_fixintake
Revises: 0003_impostors
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_fixintake"
down_revision: str | Sequence[str] | None = "0003_impostors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("sender_email")
