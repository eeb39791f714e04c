"""Signed lifecycle tokens used once (their digests, until they expire) and the order of each tenant's events.

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0400"
down_revision: str | None = "0300"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_tokens",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_lifecycle_tokens"),
    )
    op.create_index("ix_lifecycle_tokens_expires_at", "lifecycle_tokens", ["expires_at"])
    op.create_table(
        "lifecycle_order",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_lifecycle_order"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_lifecycle_order_tenant_id_tenants", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_order")
    op.drop_index("ix_lifecycle_tokens_expires_at", table_name="lifecycle_tokens")
    op.drop_table("lifecycle_tokens")
