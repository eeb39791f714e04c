"""Each statement version keeps the verification it was published with.

Revision ID: 0750
Revises: 0600
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "0750"
down_revision: str | None = "0600"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: versions published before this revision carry no verification, and the pages say so.
    with op.batch_alter_table("statement_versions") as table:
        table.add_column(sa.Column("verified_at", UtcDateTime(), nullable=True))
        table.add_column(sa.Column("verification_passed", sa.Boolean(), nullable=True))
        table.add_column(sa.Column("verification", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statement_versions") as table:
        table.drop_column("verification")
        table.drop_column("verification_passed")
        table.drop_column("verified_at")
