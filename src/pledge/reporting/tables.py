"""The record of reporting cycles (migration 0950): per tenant, when each ran, its counts and its outcome.

No accountId is kept here: counts only. The rows are the tenant's (they go with it on purge, by cascade, and with
its tenant data), and they are what the statement's reporting claim reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import Column, Connection, Engine, ForeignKey, Index, Integer, String, Table, func, select

from pledge.db import UtcDateTime, metadata
from pledge.tenantdata import TableRows


class CycleOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """An answer the cycle could not use, or no credentials for the tenant: retried on the next run."""
    THROTTLED = "throttled"
    """Atlassian asked to wait longer than a run waits: retried on the next run."""


reporting_cycles_table = Table(
    "reporting_cycles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("accounts", Integer, nullable=False),  # accounts reported
    Column("batches", Integer, nullable=False),  # requests answered 200 or 204
    Column("closed", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("records_erased", Integer, nullable=False),
    Column("hook_failures", Integer, nullable=False),
    Column("cycle_seconds", Integer, nullable=False),  # the cycle in force after this one (Cycle-Period, or 7 days)
    Column("error", String(200), nullable=True),  # why it did not succeed: never a value, never an accountId
    Index("ix_reporting_cycles_tenant_outcome_started", "tenant_id", "outcome", "started_at"),
)

CYCLE_ROWS: Final = TableRows(reporting_cycles_table)
"""A tenant's reporting cycles, as a part of its tenant data (:mod:`pledge.tenantdata`)."""


@dataclass(frozen=True, slots=True)
class CycleRecord:
    id: str
    tenant_id: str
    started_at: datetime
    finished_at: datetime
    outcome: CycleOutcome
    accounts: int
    batches: int
    closed: int
    updated: int
    records_erased: int
    hook_failures: int
    cycle: timedelta
    error: str | None


def record_cycle(connection: Connection, record: CycleRecord) -> None:
    connection.execute(
        reporting_cycles_table.insert().values(
            id=record.id,
            tenant_id=record.tenant_id,
            started_at=record.started_at,
            finished_at=record.finished_at,
            outcome=record.outcome.value,
            accounts=record.accounts,
            batches=record.batches,
            closed=record.closed,
            updated=record.updated,
            records_erased=record.records_erased,
            hook_failures=record.hook_failures,
            cycle_seconds=int(record.cycle.total_seconds()),
            error=record.error,
        )
    )


def last_successes(engine: Engine, tenant_ids: list[str]) -> dict[str, CycleRecord]:
    """The latest successful cycle of each of ``tenant_ids`` that has one."""
    if not tenant_ids:
        return {}
    table = reporting_cycles_table
    latest = (
        select(table.c.tenant_id, func.max(table.c.started_at).label("started_at"))
        .where(table.c.outcome == CycleOutcome.SUCCEEDED.value, table.c.tenant_id.in_(tenant_ids))
        .group_by(table.c.tenant_id)
        .subquery()
    )
    query = select(table).join(
        latest, (table.c.tenant_id == latest.c.tenant_id) & (table.c.started_at == latest.c.started_at)
    )
    with engine.connect() as connection:
        rows = connection.execute(query.where(table.c.outcome == CycleOutcome.SUCCEEDED.value)).mappings().all()
    return {row["tenant_id"]: _record(row) for row in rows}


def latest_cycle(engine: Engine, tenant_ids: list[str]) -> CycleRecord | None:
    """The newest cycle of any of ``tenant_ids``, whatever its outcome."""
    if not tenant_ids:
        return None
    table = reporting_cycles_table
    query = select(table).where(table.c.tenant_id.in_(tenant_ids)).order_by(table.c.started_at.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _record(row)


def _record(row: object) -> CycleRecord:
    values = dict(row)  # type: ignore[call-overload]
    return CycleRecord(
        id=values["id"],
        tenant_id=values["tenant_id"],
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        outcome=CycleOutcome(values["outcome"]),
        accounts=values["accounts"],
        batches=values["batches"],
        closed=values["closed"],
        updated=values["updated"],
        records_erased=values["records_erased"],
        hook_failures=values["hook_failures"],
        cycle=timedelta(seconds=values["cycle_seconds"]),
        error=values["error"],
    )
