"""A tenant's lifecycle as a timeline, and the deletion it is heading for (S6, S7).

Every lifecycle step is one row of ``tenant_events`` (tenant id, event, time: nothing else), written in the
transaction that makes the step, so the timeline is exactly what happened. A tenant heading for deletion has one
row in ``tenant_deletions``: why (uninstalled, its Forge licence ended, its administrator asked, an operator did)
and since when. Uninstalling or an ended licence starts a grace of ``deletion_grace_days`` (never less than 30);
re-installing, or the licence coming back, ends it and the tenant keeps its data. A requested deletion has no
grace: it is due at once. :mod:`pledge.retention.purge` deletes what is due; docs/retention.md draws the timeline.

Both tables are parts of the tenant's data (:mod:`pledge.tenantdata`): they move with it and are deleted with it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    delete,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import RowMapping

from pledge.db import UtcDateTime, metadata
from pledge.tenantdata import Row, TableRows

MAX_REASON = 200
"""How long an operator's reason for a deletion may be (it is kept in the shred ledger)."""


class Event(enum.StrEnum):
    """What can happen to a tenant, as its timeline names it."""

    INSTALLED = "installed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"
    REINSTALLED = "reinstalled"
    LICENCE_ENDED = "licence_ended"
    LICENCE_ACTIVE = "licence_active"
    DELETION_REQUESTED = "deletion_requested"
    PURGE_STARTED = "purge_started"


class DeletionCause(enum.StrEnum):
    """Why a tenant is heading for deletion. The first two wait out the grace; the last two are due at once."""

    UNINSTALLED = "uninstalled"
    LICENCE_ENDED = "licence_ended"
    REQUEST = "request"
    """The site's administrator asked, from the app."""
    OPERATOR = "operator"
    """An operator ran ``pledge purge``."""

    @property
    def waits_for_grace(self) -> bool:
        return self in (DeletionCause.UNINSTALLED, DeletionCause.LICENCE_ENDED)


tenant_events_table = Table(
    "tenant_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_tenant_events_tenant_id", "tenant_id", "id"),
)

tenant_deletions_table = Table(
    "tenant_deletions",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("cause", String(16), nullable=False),
    Column("reason", String(MAX_REASON), nullable=True),
    Column("since", UtcDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    event: Event
    at: datetime


@dataclass(frozen=True, slots=True)
class ScheduledDeletion:
    """A tenant heading for deletion: since when, why, and when it is due (``since`` + grace, or ``since``)."""

    tenant_id: str
    cause: DeletionCause
    reason: str | None
    since: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class TenantEventRows:
    """A tenant's ``tenant_events`` as a part of its tenant data: exported in order without the row ids, which
    belong to this database (another deployment numbers them anew when it imports them)."""

    name = "tenant_events"

    def export_rows(self, connection: Connection, tenant_id: str) -> list[Row]:
        return _without_ids(_EVENT_ROWS.export_rows(connection, tenant_id))

    def export_rows_of(self, connection: Connection, tenant_ids: Sequence[str]) -> dict[str, list[Row]]:
        grouped = _EVENT_ROWS.export_rows_of(connection, tenant_ids)
        return {tenant_id: _without_ids(rows) for tenant_id, rows in grouped.items()}

    def import_rows(self, connection: Connection, tenant_id: str, rows: Sequence[Row]) -> None:
        _EVENT_ROWS.import_rows(connection, tenant_id, rows)

    def delete_rows(self, connection: Connection, tenant_id: str) -> int:
        return _EVENT_ROWS.delete_rows(connection, tenant_id)


def _without_ids(rows: list[Row]) -> list[Row]:
    return [{name: value for name, value in row.items() if name != "id"} for row in rows]


_EVENT_ROWS: Final = TableRows(tenant_events_table)
TIMELINE_ROWS: Final = (TenantEventRows(), TableRows(tenant_deletions_table))
"""The timeline's parts of a tenant's data (:mod:`pledge.tenantdata`)."""


def record_event(connection: Connection, tenant_id: str, event: Event, at: datetime) -> None:
    connection.execute(insert(tenant_events_table).values(tenant_id=tenant_id, event=event.value, at=at))


def schedule_deletion(
    connection: Connection, tenant_id: str, cause: DeletionCause, since: datetime, reason: str | None = None
) -> None:
    """Make ``cause`` the reason the tenant is heading for deletion, from ``since`` (replacing an earlier one:
    uninstalling after an ended licence starts the grace again, so the site is kept the full grace after it)."""
    cancel_deletion(connection, tenant_id)
    connection.execute(
        insert(tenant_deletions_table).values(tenant_id=tenant_id, cause=cause.value, reason=reason, since=since)
    )


def cancel_deletion(connection: Connection, tenant_id: str, *, only: DeletionCause | None = None) -> bool:
    """End the tenant's grace (of ``only`` that cause, if given); whether there was one."""
    table = tenant_deletions_table
    condition = table.c.tenant_id == tenant_id
    if only is not None:
        condition = condition & (table.c.cause == only.value)
    return connection.execute(delete(table).where(condition)).rowcount > 0


def scheduled_deletion(connection: Connection, tenant_id: str, grace: timedelta) -> ScheduledDeletion | None:
    row = (
        connection.execute(select(tenant_deletions_table).where(tenant_deletions_table.c.tenant_id == tenant_id))
        .mappings()
        .first()
    )
    return None if row is None else _scheduled(row, grace)


def due_deletions(connection: Connection, now: datetime, grace: timedelta) -> list[ScheduledDeletion]:
    """The deletions due at ``now``, oldest first: requested ones, and those whose grace has run out."""
    table = tenant_deletions_table
    waiting = [cause.value for cause in DeletionCause if cause.waits_for_grace]
    query = (
        select(table)
        .where(or_(table.c.cause.not_in(waiting), table.c.since <= now - grace))
        .order_by(table.c.since, table.c.tenant_id)
    )
    return [_scheduled(row, grace) for row in connection.execute(query).mappings()]


def timeline(connection: Connection, tenant_id: str) -> list[TimelineEvent]:
    table = tenant_events_table
    query = select(table.c.event, table.c.at).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
    return [TimelineEvent(Event(row.event), row.at) for row in connection.execute(query)]


def _scheduled(row: RowMapping, grace: timedelta) -> ScheduledDeletion:
    cause = DeletionCause(row["cause"])
    since: datetime = row["since"]
    return ScheduledDeletion(
        tenant_id=row["tenant_id"],
        cause=cause,
        reason=row["reason"],
        since=since,
        due_at=since + grace if cause.waits_for_grace else since,
    )
