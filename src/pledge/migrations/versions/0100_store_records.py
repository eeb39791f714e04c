"""Store records with their blind indexes, and the crypto-shredding marker of the vault.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

# Frozen here: a migration must not change when the code's constant does.
INDEX_COLUMNS = ("index_0", "index_1", "index_2", "index_3")

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
        *(sa.Column(name, sa.LargeBinary(), nullable=True) for name in INDEX_COLUMNS),
        sa.PrimaryKeyConstraint("tenant_id", "app_key", "collection", "id", name="pk_store_records"),
    )
    for name in INDEX_COLUMNS:
        op.create_index(
            f"ix_store_records_{name}",
            "store_records",
            ["tenant_id", "app_key", "collection", name, "id"],
            sqlite_where=sa.column(name).isnot(None),
            postgresql_where=sa.column(name).isnot(None),
        )


def downgrade() -> None:
    op.drop_table("store_records")
    op.drop_table("shredded_tenants")
