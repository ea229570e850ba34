"""Each model's traffic policy (canary share, shadow, challenger alias), set by a deployer and followed by its servers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_traffic",
        sa.Column("model_id", BigId, sa.ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("canary", sa.Float, nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("challenger", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_traffic")
