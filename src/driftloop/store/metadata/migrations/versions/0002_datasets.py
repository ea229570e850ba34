"""Datasets and their versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("data_schema", sa.Text),
        sa.Column("settings", sa.Text, nullable=False),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("dataset_id", BigId, sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("delta_version", sa.BigInteger, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("transform_hash", sa.String(64)),
        sa.Column("schema_fingerprint", sa.String(64)),
        sa.Column("arrow_schema", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("total_rows", sa.BigInteger, nullable=False),
        sa.Column("quarantined_rows", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("profile_digest", sa.String(64)),
        sa.Column("report_digest", sa.String(64)),
        sa.Column("transform_digest", sa.String(64)),
        sa.UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_number"),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
