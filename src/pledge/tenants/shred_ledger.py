"""The shred ledger: which tenants were purged, when and why — an append-only list that outlives them (S7).

A purge (:mod:`pledge.retention.purge`) starts by writing the tenant's ledger row, in the transaction that marks
the tenant ``purged``; from then on the purge only goes forward, and a run killed at any later step is finished by
the next one. The row says nothing personal: the tenant's internal id, why (``grace``, ``request``, ``operator``,
with an operator's short reason), when it was due, when the purge started and when it finished.

The ledger is what a restore replays: a tenant in :func:`shredded_tenants` never comes back, whatever an older
backup holds (docs/retention.md, "For backups").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, String, Table, insert, select, update
from sqlalchemy.engine import RowMapping

from pledge.db import UtcDateTime, metadata
from pledge.tenants.registry import TenantState, tenants_table
from pledge.tenants.timeline import MAX_REASON, DeletionCause, Event, ScheduledDeletion, record_event
from pledge.vault.envelope import shredded_tenants_table


class ShredCause(enum.StrEnum):
    GRACE = "grace"
    """The grace after an uninstall, or an ended licence, ran out."""
    REQUEST = "request"
    OPERATOR = "operator"


_CAUSES = {
    DeletionCause.UNINSTALLED: ShredCause.GRACE,
    DeletionCause.LICENCE_ENDED: ShredCause.GRACE,
    DeletionCause.REQUEST: ShredCause.REQUEST,
    DeletionCause.OPERATOR: ShredCause.OPERATOR,
}

shred_ledger_table = Table(
    "shred_ledger",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("cause", String(16), nullable=False),
    Column("reason", String(MAX_REASON), nullable=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("purged_at", UtcDateTime, nullable=True),
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    tenant_id: str
    cause: ShredCause
    reason: str | None
    due_at: datetime
    started_at: datetime
    purged_at: datetime | None
    """None while the purge is under way (a run was stopped: the next one finishes it)."""


def begin_purge(connection: Connection, deletion: ScheduledDeletion, now: datetime) -> bool:
    """Commit the tenant to its purge: its ledger row, its state ``purged``, the event. False (and nothing
    written) if the ledger holds it already. From here on the tenant's requests are refused and it cannot be
    re-installed in place; the purge's later steps may run any number of times."""
    table = shred_ledger_table
    if connection.execute(select(table.c.tenant_id).where(table.c.tenant_id == deletion.tenant_id)).first():
        return False
    connection.execute(
        insert(table).values(
            tenant_id=deletion.tenant_id,
            cause=_CAUSES[deletion.cause].value,
            reason=deletion.reason,
            due_at=deletion.due_at,
            started_at=now,
        )
    )
    connection.execute(
        update(tenants_table)
        .where(tenants_table.c.id == deletion.tenant_id)
        .values(state=TenantState.PURGED.value, updated_at=now, state_changed_at=now)
    )
    record_event(connection, deletion.tenant_id, Event.PURGE_STARTED, now)
    return True


def finish_purge(connection: Connection, tenant_id: str, now: datetime) -> None:
    table = shred_ledger_table
    connection.execute(
        update(table).where((table.c.tenant_id == tenant_id) & table.c.purged_at.is_(None)).values(purged_at=now)
    )


def unfinished_purges(connection: Connection) -> list[str]:
    """Tenants whose purge started but did not finish (a run was stopped), oldest first."""
    table = shred_ledger_table
    query = select(table.c.tenant_id).where(table.c.purged_at.is_(None)).order_by(table.c.started_at)
    return list(connection.execute(query).scalars())


def ledger_entry(connection: Connection, tenant_id: str) -> LedgerEntry | None:
    table = shred_ledger_table
    row = connection.execute(select(table).where(table.c.tenant_id == tenant_id)).mappings().first()
    return None if row is None else _entry(row)


def ledger(connection: Connection) -> list[LedgerEntry]:
    """Every entry, oldest purge first."""
    table = shred_ledger_table
    rows = connection.execute(select(table).order_by(table.c.started_at, table.c.tenant_id)).mappings()
    return [_entry(row) for row in rows]


def shredded_tenants(connection: Connection) -> set[str]:
    """Every tenant whose data must never be readable again: the ledger's (purged, or being purged) and those
    whose keys the vault shredded by other ways. A restore deletes these tenants' rows and keys from what it
    brings back, before anything reads it (docs/retention.md, "For backups")."""
    purged = connection.execute(select(shred_ledger_table.c.tenant_id)).scalars()
    shredded = connection.execute(select(shredded_tenants_table.c.tenant_id)).scalars()
    return {*purged, *shredded}


def _entry(row: RowMapping) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=row["tenant_id"],
        cause=ShredCause(row["cause"]),
        reason=row["reason"],
        due_at=row["due_at"],
        started_at=row["started_at"],
        purged_at=row["purged_at"],
    )
