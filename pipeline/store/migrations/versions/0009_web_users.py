"""web users

Revision ID: 0009_web_users
Revises: 0008_pack_release
Create Date: 2026-12-05 08:30:00

The console's people (local accounts and those Entra ID signed in), their signed-in sessions,
and the sign-in attempts that throttle password guessing.

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import pipeline.store.models


# revision identifiers, used by Alembic.
revision: str = '0009_web_users'
down_revision: Union[str, Sequence[str], None] = '0008_pack_release'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('web_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('last_sign_in_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('seen_at', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('ended_at', pipeline.store.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('web_sign_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', pipeline.store.models.UTCDateTime(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sign_ins_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sign_ins_client'), ['client'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sign_ins_email'), ['email'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('web_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sign_ins_email'))
        batch_op.drop_index(batch_op.f('ix_web_sign_ins_client'))
        batch_op.drop_index(batch_op.f('ix_web_sign_ins_at'))
    op.drop_table('web_sign_ins')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
    op.drop_table('web_sessions')
    op.drop_table('web_users')
