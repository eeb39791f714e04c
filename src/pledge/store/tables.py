"""The two tables behind the store (S2): encrypted records, and blind indexes for equality lookups.

Nothing an app writes reaches either table in clear: a record row holds ids, times, the data key version and the
sealed payload (see :mod:`pledge.store.codec` and docs/storage-format.md); an index row holds a keyed digest.
The statements are built once with bound parameters, so SQLAlchemy compiles each of them once per process.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Delete,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from pledge.db import UtcDateTime, metadata

records_table = Table(
    "store_records",
    metadata,
    Column("tenant_id", String(32), nullable=False),
    Column("app_key", String(64), nullable=False),
    Column("collection", String(64), nullable=False),
    Column("id", String(32), nullable=False),
    Column("key_version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "app_key", "collection", "id"),
)

index_table = Table(
    "store_index",
    metadata,
    Column("tenant_id", String(32), nullable=False),
    Column("app_key", String(64), nullable=False),
    Column("collection", String(64), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("field", String(64), nullable=False),
    Column("digest", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "app_key", "collection", "record_id", "field"),
    # record_id last: a lookup walks the matching entries already in record order, so LIMIT stops early.
    Index("ix_store_index_lookup", "tenant_id", "app_key", "collection", "field", "digest", "record_id"),
    # Small rows: on SQLite the primary key is the table, one B-tree fewer to write per entry.
    sqlite_with_rowid=False,
)

_records = records_table.c
_index = index_table.c

RECORD_COLUMNS = (_records.id, _records.payload, _records.revision, _records.created_at, _records.updated_at)


def record_key(tenant_id: str, app_key: str, collection: str, record_id: str | None = None) -> dict[str, str]:
    """The bound parameters naming a collection (and a record in it) of one tenant of one app."""
    key = {"in_tenant": tenant_id, "in_app": app_key, "in_collection": collection}
    if record_id is not None:
        key["in_record"] = record_id
    return key


def _in_collection(columns: Any) -> Any:
    # Not named after the columns: SQLAlchemy keeps those names for the SET and VALUES clauses.
    return and_(
        columns.tenant_id == bindparam("in_tenant"),
        columns.app_key == bindparam("in_app"),
        columns.collection == bindparam("in_collection"),
    )


INSERT_RECORD = insert(records_table)
SELECT_RECORD: Select[Any] = select(*RECORD_COLUMNS).where(
    _in_collection(_records), _records.id == bindparam("in_record")
)
UPDATE_RECORD: Update = (
    update(records_table)
    .where(_in_collection(_records), _records.id == bindparam("in_record"), _records.revision == bindparam("seen"))
    .values(
        key_version=bindparam("new_key_version"),
        revision=_records.revision + 1,
        payload=bindparam("new_payload"),
        updated_at=bindparam("new_updated_at"),
    )
)
DELETE_RECORD: Delete = delete(records_table).where(_in_collection(_records), _records.id == bindparam("in_record"))
INSERT_INDEX = insert(index_table)
DELETE_INDEX: Delete = delete(index_table).where(_in_collection(_index), _index.record_id == bindparam("in_record"))


@functools.cache
def list_records(filters: int, paged: bool) -> Select[Any]:
    """Records of one collection in id order; with ``filters`` blind-index conditions ``field_N``/``digests_N``.

    A filtered list first takes the matching record ids from the index (in record order, ``LIMIT`` applied there)
    and only then joins the records by primary key: its cost follows the matches, never the size of the
    collection, and the plan stays that shape when PostgreSQL caches a generic plan for the prepared statement.
    """
    if filters == 0:
        query = select(*RECORD_COLUMNS).where(_in_collection(_records))
        if paged:
            query = query.where(_records.id > bindparam("after"))
        return query.order_by(_records.id).limit(bindparam("limit"))
    matches = _matching_ids(filters)
    if paged:
        matches = matches.where(matches.selected_columns.record_id > bindparam("after"))
    page = matches.order_by(matches.selected_columns.record_id).limit(bindparam("limit")).subquery("page")
    return (
        select(*RECORD_COLUMNS)
        .select_from(page)
        .join(records_table, and_(_in_collection(_records), _records.id == page.c.record_id))
        .order_by(page.c.record_id)
    )


@functools.cache
def count_records(filters: int) -> Select[Any]:
    if filters == 0:
        return select(func.count()).select_from(records_table).where(_in_collection(_records))
    matches = _matching_ids(filters).subquery("matches")
    return select(func.count()).select_from(matches)


def _matching_ids(filters: int) -> Select[Any]:
    """Ids of the records whose index entries match every condition (every entry has its record: one transaction)."""
    entries = [index_table.alias(f"filter_{n}") for n in range(filters)]
    first = entries[0].c
    query = select(first.record_id).select_from(entries[0]).where(_in_collection(first))
    for n, entry in enumerate(entries):
        query = query.where(entry.c.field == bindparam(f"field_{n}"))
        query = query.where(entry.c.digest.in_(bindparam(f"digests_{n}", expanding=True)))
        if n:
            query = query.join(entry, _same_record(entry.c, first))
    return query


def _same_record(a: Any, b: Any) -> Any:
    return and_(
        a.tenant_id == b.tenant_id,
        a.app_key == b.app_key,
        a.collection == b.collection,
        a.record_id == b.record_id,
    )


def replace_index(
    connection: Connection, tenant_id: str, app_key: str, collection: str, record_id: str, digests: dict[str, bytes]
) -> None:
    """Make a record's index entries exactly ``digests`` (none: the record is gone or has no indexed value)."""
    connection.execute(DELETE_INDEX, record_key(tenant_id, app_key, collection, record_id))
    insert_index(connection, tenant_id, app_key, collection, record_id, digests)


def insert_index(
    connection: Connection, tenant_id: str, app_key: str, collection: str, record_id: str, digests: dict[str, bytes]
) -> None:
    if digests:
        key = {"tenant_id": tenant_id, "app_key": app_key, "collection": collection, "record_id": record_id}
        connection.execute(INSERT_INDEX, [{**key, "field": name, "digest": digest} for name, digest in digests.items()])
