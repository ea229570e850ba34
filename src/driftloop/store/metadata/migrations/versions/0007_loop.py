"""The loop: each action a policy takes, step by step, and the windows of data it quarantined.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "loop_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("policy", sa.String(256), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("champion_version", sa.Integer),
        sa.Column("challenger_version", sa.Integer),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("cost", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_loop_actions_policy", "loop_actions", ["policy", "id"])
    op.create_index("ix_loop_actions_model", "loop_actions", ["model", "id"])
    op.create_table(
        "quarantines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("window_end", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("action_id", BigId),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_quarantines_model", "quarantines", ["model", "window_start"])


def downgrade() -> None:
    op.drop_index("ix_quarantines_model", table_name="quarantines")
    op.drop_table("quarantines")
    op.drop_index("ix_loop_actions_model", table_name="loop_actions")
    op.drop_index("ix_loop_actions_policy", table_name="loop_actions")
    op.drop_table("loop_actions")
