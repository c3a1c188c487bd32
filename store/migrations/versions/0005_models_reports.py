"""per-channel models and limits

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channelmodel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("training_start", store.types.UTCDateTime(), nullable=False),
        sa.Column("training_end", store.types.UTCDateTime(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "version", name="uq_channelmodel_version"),
    )
    with op.batch_alter_table("channelmodel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channelmodel_channel_id"), ["channel_id"])

    op.create_table(
        "channellimit",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.PrimaryKeyConstraint("channel_id"),
    )


def downgrade() -> None:
    op.drop_table("channellimit")
    with op.batch_alter_table("channelmodel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channelmodel_channel_id"))
    op.drop_table("channelmodel")
