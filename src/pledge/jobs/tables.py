"""The job runner's tables (migration 0500): a lease row per job and the history of every run."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from pledge.db import UtcDateTime, metadata

job_leases_table = Table(
    "job_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=True),  # the instance running the job; NULL once released
    Column("token", BigInteger, nullable=False),  # the fencing token: grows by one at every acquisition
    Column("expires_at", UtcDateTime, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),  # when the job was first declared: due from then on
)

job_runs_table = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("instance", String(128), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("error", String(200), nullable=True),  # the exception's class name, never its message (it may hold data)
    Index("ix_job_runs_name_outcome_started_at", "name", "outcome", "started_at"),
)


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABANDONED = "abandoned"  # its holder died or lost the lease; the next holder ran the job again
