"""anomaly lookups by channel and period: index (channel_id, end, start, severity, kind)

The agent's and the API's anomaly lists ask for anomalies of some channels that
overlap a period (`end >= lower` and `start <= upper`), often with a severity or a
kind. With only `(channel_id, start)`, a recent period reads every anomaly of every
channel; this index finds the recent ones by `end` and filters the rest inside it.
Measured in eval/BENCH.md (the `ask` notes).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_anomaly_channel_end",
        "anomaly",
        ["channel_id", "end", "start", "severity", "kind"],
    )


def downgrade() -> None:
    op.drop_index("ix_anomaly_channel_end", table_name="anomaly")
