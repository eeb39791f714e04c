"""Statement versions and verification runs.

Revision ID: 0200
Revises: 0100
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0200"
down_revision: str | None = "0100"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statement_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statement_versions"),
    )
    op.create_table(
        "statement_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verified_at", UtcDateTime(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_statement_verifications"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["statement_versions.id"],
            name="fk_statement_verifications_version_id_statement_versions",
        ),
    )


def downgrade() -> None:
    op.drop_table("statement_verifications")
    op.drop_table("statement_versions")
