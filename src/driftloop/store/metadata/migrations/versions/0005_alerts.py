"""Alerts: the alerts monitoring rules raise, their deliveries, and each rule's window state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(256), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("resolved_by", sa.String(256)),
        sa.Column("acked_at", sa.Float),
        sa.Column("acked_by", sa.String(256)),
        sa.Column("notified_at", sa.Float),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_value", sa.Float),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_rule_subject_status", "alerts", ["rule", "subject", "status"])
    op.create_index("ix_alerts_status_opened", "alerts", ["status", "opened_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alert_id", BigId, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_alert_deliveries_alert", "alert_deliveries", ["alert_id", "id"])
    op.create_table(
        "alert_states",
        sa.Column("rule", sa.String(256), primary_key=True),
        sa.Column("subject", sa.String(256), primary_key=True),
        sa.Column("breaches", sa.Integer, nullable=False),
        sa.Column("recoveries", sa.Integer, nullable=False),
        sa.Column("last_value", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
    op.drop_index("ix_alert_deliveries_alert", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_status_opened", table_name="alerts")
    op.drop_index("ix_alerts_rule_subject_status", table_name="alerts")
    op.drop_table("alerts")
