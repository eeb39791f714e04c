"""Record retention: records older than the retention their collection declares are deleted (S7).

An app declares it in its data manifest (``Collection(..., retention_days=90)`` keeps a mail log three months); the
``record-retention`` job deletes, every hour, each record whose ``created_at`` is older than that, for every tenant.
A record's age counts from when it was first written: updating it does not make it young again. Collections without
a retention keep their records until the tenant is purged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Connection, delete, func, select

from pledge.jobs import Job, JobContext
from pledge.store.evidence import DeclaringApp
from pledge.store.tables import records_table

RETENTION_JOB: Final = "record-retention"
RETENTION_PERIOD: Final = timedelta(hours=1)
RETENTION_DEADLINE: Final = timedelta(minutes=10)
RETENTION_ALLOWANCE: Final = RETENTION_PERIOD + RETENTION_DEADLINE
"""How long past its retention a record may still be found: the job's period and one run's deadline."""


@dataclass(frozen=True, slots=True)
class RetainedCollection:
    """A collection of one app whose records are kept ``retention`` and no longer."""

    app_key: str
    collection: str
    retention: timedelta

    def expired(self, now: datetime) -> ColumnElement[bool]:
        records = records_table.c
        return (
            (records.app_key == self.app_key)
            & (records.collection == self.collection)
            & (records.created_at < now - self.retention)
        )


def retained_collections(apps: Iterable[DeclaringApp]) -> tuple[RetainedCollection, ...]:
    """Every collection of ``apps`` that declares a retention."""
    return tuple(
        RetainedCollection(app.key, collection.name, timedelta(days=collection.retention_days))
        for app in apps
        for collection in app.data.collections
        if collection.retention_days is not None
    )


def delete_expired(connection: Connection, collections: Sequence[RetainedCollection], now: datetime) -> int:
    """Delete every record past its collection's retention; how many."""
    return sum(
        connection.execute(delete(records_table).where(collection.expired(now))).rowcount for collection in collections
    )


def count_expired(
    connection: Connection, collections: Sequence[RetainedCollection], now: datetime
) -> dict[RetainedCollection, int]:
    """How many records each collection holds past its retention at ``now`` (collections with none left out)."""
    found = {}
    for collection in collections:
        query = select(func.count()).select_from(records_table).where(collection.expired(now))
        count = connection.execute(query).scalar_one()
        if count:
            found[collection] = int(count)
    return found


def record_retention_job(apps: Iterable[DeclaringApp]) -> Job:
    collections = retained_collections(apps)

    def run(context: JobContext) -> None:
        with context.transaction() as connection:
            delete_expired(connection, collections, context.now())

    return Job(name=RETENTION_JOB, period=RETENTION_PERIOD, deadline=RETENTION_DEADLINE, run=run)
