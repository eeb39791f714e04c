"""Tenant registry and per-tenant data keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("app_key", sa.String(255), nullable=False),
        sa.Column("client_key", sa.String(255), nullable=True),
        sa.Column("installation_id", sa.String(255), nullable=True),
        sa.Column("cloud_id", sa.String(64), nullable=True),
        sa.Column("base_url", sa.String(2048), nullable=False),
        sa.Column("product_type", sa.String(32), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("shared_secret", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("state_changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("app_key", "client_key", name="uq_tenants_app_key_client_key"),
        sa.UniqueConstraint("app_key", "installation_id", name="uq_tenants_app_key_installation_id"),
    )
    op.create_table(
        "data_keys",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "version", name="pk_data_keys"),
    )


def downgrade() -> None:
    op.drop_table("data_keys")
    op.drop_table("tenants")
