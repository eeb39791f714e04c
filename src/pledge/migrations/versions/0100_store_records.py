"""Store records, blind indexes, and the crypto-shredding marker of the vault.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shredded_tenants",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("shredded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_shredded_tenants"),
    )
    op.create_table(
        "store_records",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("app_key", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "app_key", "collection", "id", name="pk_store_records"),
    )
    op.create_table(
        "store_index",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("app_key", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "app_key", "collection", "record_id", "field", name="pk_store_index"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_store_index_lookup", "store_index", ["tenant_id", "app_key", "collection", "field", "digest", "record_id"]
    )


def downgrade() -> None:
    op.drop_table("store_index")
    op.drop_table("store_records")
    op.drop_table("shredded_tenants")
