"""Forge installations (license signal, migration lock) and the realm migration log.

Revision ID: 0300
Revises: 0200
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forge_installations",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("license_active", sa.Boolean(), nullable=True),
        sa.Column("license_changed_at", UtcDateTime(), nullable=True),
        sa.Column("migration_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_forge_installations"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_forge_installations_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "forge_realm_migrations",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("app_key", sa.String(255), nullable=False),
        sa.Column("installation_id", sa.String(255), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("source_realm", sa.String(8), nullable=False),
        sa.Column("target_realm", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", "role", name="pk_forge_realm_migrations"),
    )


def downgrade() -> None:
    op.drop_table("forge_realm_migrations")
    op.drop_table("forge_installations")
