"""The label queue: predictions chosen by active learning for a person to label, and whether they were answered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "label_requests",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(256), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("prediction", sa.Text, nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float),
        sa.Column("answer_source", sa.String(64)),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.UniqueConstraint("request_id", name="uq_label_requests_request_id"),
    )
    op.create_index("ix_label_requests_model", "label_requests", ["model", "requested_at"])
    op.create_index("ix_label_requests_pending", "label_requests", ["answered_at", "score"])


def downgrade() -> None:
    op.drop_index("ix_label_requests_pending", table_name="label_requests")
    op.drop_index("ix_label_requests_model", table_name="label_requests")
    op.drop_table("label_requests")
