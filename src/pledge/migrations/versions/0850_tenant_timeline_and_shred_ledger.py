"""Every tenant's timeline, the deletion each is heading for, and the shred ledger of purged tenants.

Tenants already uninstalled get their grace from when they were uninstalled, so none is kept forever.

Revision ID: 0850
Revises: 0750
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0850"
down_revision: str | None = "0750"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_events"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_events_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_tenant_events_tenant_id", "tenant_events", ["tenant_id", "id"])
    op.create_table(
        "tenant_deletions",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_deletions"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_deletions_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "shred_ledger",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("purged_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_shred_ledger"),
    )
    op.execute(
        "INSERT INTO tenant_deletions (tenant_id, cause, reason, since) "
        "SELECT id, 'uninstalled', NULL, state_changed_at FROM tenants WHERE state = 'uninstalled'"
    )


def downgrade() -> None:
    op.drop_table("shred_ledger")
    op.drop_table("tenant_deletions")
    op.drop_index("ix_tenant_events_tenant_id", table_name="tenant_events")
    op.drop_table("tenant_events")
