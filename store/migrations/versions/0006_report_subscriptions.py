"""report subscriptions: subscription.report_period, outbox messages without incident

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_period", sa.String(length=10), nullable=True))
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM outboxmessage WHERE incident_id IS NULL")
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("report_period")
