"""notifications: incidents, subscriptions, outbox, silences, maintenance windows

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("start", store.types.UTCDateTime(), nullable=False),
        sa.Column("end", store.types.UTCDateTime(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("opened_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("closed_at", store.types.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", store.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["satellite_id"], ["satellite.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_satellite_id"), ["satellite_id"])
        batch_op.create_index(batch_op.f("ix_incident_start"), ["start"])
        batch_op.create_index("ix_incident_satellite_status", ["satellite_id", "status"])

    op.create_table(
        "incidentanomaly",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("anomaly_id", sa.Integer(), nullable=False),
        sa.Column("added_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["anomaly_id"], ["anomaly.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("incident_id", "anomaly_id"),
        sa.UniqueConstraint("anomaly_id"),
    )

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("min_severity", sa.String(length=10), nullable=False),
        sa.Column("digest_s", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["satellite_id"], ["satellite.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_tenant"), ["tenant"])

    op.create_table(
        "outboxmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("transition", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", store.types.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", store.types.UTCDateTime(), nullable=True),
        sa.Column("dead_at", store.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscription.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outboxmessage_incident_id"), ["incident_id"])
        batch_op.create_index("ix_outbox_pending", ["delivered_at", "dead_at", "next_attempt_at"])

    op.create_table(
        "channelsilence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("until", store.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("channelsilence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channelsilence_channel_id"), ["channel_id"])

    op.create_table(
        "maintenancewindow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("start", store.types.UTCDateTime(), nullable=False),
        sa.Column("end", store.types.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["satellite_id"], ["satellite.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenancewindow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenancewindow_satellite_id"), ["satellite_id"])


def downgrade() -> None:
    op.drop_table("maintenancewindow")
    op.drop_table("channelsilence")
    op.drop_table("outboxmessage")
    op.drop_table("subscription")
    op.drop_table("incidentanomaly")
    op.drop_table("incident")
