"""Personal data reporting: the record of each tenant's reporting cycles (counts and outcome, no accountId).

Revision ID: 0950
Revises: 0850
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0950"
down_revision: str | None = "0850"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reporting_cycles",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("records_erased", sa.Integer(), nullable=False),
        sa.Column("hook_failures", sa.Integer(), nullable=False),
        sa.Column("cycle_seconds", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_reporting_cycles_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reporting_cycles"),
    )
    op.create_index(
        "ix_reporting_cycles_tenant_outcome_started", "reporting_cycles", ["tenant_id", "outcome", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_reporting_cycles_tenant_outcome_started", table_name="reporting_cycles")
    op.drop_table("reporting_cycles")
