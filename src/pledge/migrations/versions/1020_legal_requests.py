"""Legal requests: the append-only register of disclosures an authority compelled (S13).

Triggers on both engines refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL): a record once written stays.

Revision ID: 1020
Revises: 0950
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pledge.db import UtcDateTime

revision: str = "1020"
down_revision: str | None = "0950"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_REFUSAL = "legal_requests is append-only"


def upgrade() -> None:
    op.create_table(
        "legal_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("authority", sa.String(120), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("gag", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legal_requests"),
    )
    op.create_index("ix_legal_requests_tenant_id", "legal_requests", ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION legal_requests_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER legal_requests_append_only BEFORE UPDATE OR DELETE ON legal_requests "
            "FOR EACH ROW EXECUTE FUNCTION legal_requests_append_only()"
        )
        op.execute(
            "CREATE TRIGGER legal_requests_no_truncate BEFORE TRUNCATE ON legal_requests "
            "FOR EACH STATEMENT EXECUTE FUNCTION legal_requests_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER legal_requests_no_{verb.lower()} BEFORE {verb} ON legal_requests "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE legal_requests")
        op.execute("DROP FUNCTION legal_requests_append_only()")
    else:
        op.drop_table("legal_requests")
