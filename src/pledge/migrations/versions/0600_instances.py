"""What several instances share: Forge tokens used once, tenant changes to forget, egress refusal counts.

Revision ID: 0600
Revises: 0500
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0600"
down_revision: str | None = "0500"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forge_token_uses",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_forge_token_uses"),
    )
    op.create_index("ix_forge_token_uses_expires_at", "forge_token_uses", ["expires_at"])
    op.create_table(
        "tenant_changes",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_changes_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_tenant_changes_version", "tenant_changes", ["version"])
    counter = op.create_table(
        "tenant_change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_change_counter"),
    )
    op.bulk_insert(counter, [{"id": 1, "version": 0}])
    op.create_table(
        "egress_refusal_counts",
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reason", name="pk_egress_refusal_counts"),
    )


def downgrade() -> None:
    op.drop_table("egress_refusal_counts")
    op.drop_table("tenant_change_counter")
    op.drop_index("ix_tenant_changes_version", table_name="tenant_changes")
    op.drop_table("tenant_changes")
    op.drop_index("ix_forge_token_uses_expires_at", table_name="forge_token_uses")
    op.drop_table("forge_token_uses")
