"""Identities: users and service accounts, their API tokens (stored only as SHA-256 digests) and their role grants.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("disabled_at", sa.Float),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user", sa.String(256), sa.ForeignKey("users.name"), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
        sa.Column("revoked_by", sa.String(256)),
        sa.Column("last_used_at", sa.Float),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])
    op.create_table(
        "grants",
        sa.Column("user", sa.String(256), sa.ForeignKey("users.name"), primary_key=True),
        sa.Column("scope", sa.String(272), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_at", sa.Float, nullable=False),
        sa.Column("granted_by", sa.String(256), nullable=False),
    )
    op.create_index("ix_grants_scope", "grants", ["scope"])


def downgrade() -> None:
    op.drop_index("ix_grants_scope", table_name="grants")
    op.drop_table("grants")
    op.drop_index("ix_tokens_user", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
