"""Monitor records: scheduled checks' findings and server processes' health counters over time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.Column("window_start", sa.Float),
        sa.Column("window_end", sa.Float),
        sa.Column("outputs", sa.Text, nullable=False),
    )
    op.create_index("ix_monitor_records_kind_subject", "monitor_records", ["kind", "subject", "id"])
    op.create_index("ix_monitor_records_recorded", "monitor_records", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_records_recorded", table_name="monitor_records")
    op.drop_index("ix_monitor_records_kind_subject", table_name="monitor_records")
    op.drop_table("monitor_records")
