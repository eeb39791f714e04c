"""Jobs of the packages below this one (``pledge.tenants``); packages above declare theirs beside their code."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from pledge.jobs.job import Job, JobContext
from pledge.tenants.registry import lifecycle_tokens_table


def sweep_lifecycle_tokens(context: JobContext) -> None:
    """Delete the digests of used lifecycle tokens that have expired: an expired token is refused for its time
    anyway, and without this they would pile up until the next lifecycle event swept them."""
    table = lifecycle_tokens_table
    with context.transaction() as connection:
        connection.execute(delete(table).where(table.c.expires_at < context.now()))


LIFECYCLE_TOKENS_SWEEP = Job(
    name="tenant-lifecycle-tokens-sweep",
    period=timedelta(hours=1),
    deadline=timedelta(minutes=5),
    run=sweep_lifecycle_tokens,
)


def builtin_jobs() -> tuple[Job, ...]:
    return (LIFECYCLE_TOKENS_SWEEP,)
