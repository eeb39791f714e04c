"""The two tables behind the store (S2): encrypted records, and blind indexes for equality lookups.

Nothing an app writes reaches either table in clear: a record row holds ids, times, the data key version and the
sealed payload (see :mod:`pledge.store.codec` and docs/storage-format.md); an index row holds a keyed digest.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    delete,
    insert,
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
    Index(None, "tenant_id", "key_version"),
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
    Index(None, "tenant_id", "app_key", "collection", "field", "digest"),
)


def record_where(tenant_id: str, app_key: str, collection: str, record_id: str) -> ColumnElement[bool]:
    return and_(
        records_table.c.tenant_id == tenant_id,
        records_table.c.app_key == app_key,
        records_table.c.collection == collection,
        records_table.c.id == record_id,
    )


def replace_index(
    connection: Connection, tenant_id: str, app_key: str, collection: str, record_id: str, digests: dict[str, bytes]
) -> None:
    """Make a record's index rows exactly ``digests`` (none: the record is gone or has no indexed value)."""
    connection.execute(
        delete(index_table).where(
            index_table.c.tenant_id == tenant_id,
            index_table.c.app_key == app_key,
            index_table.c.collection == collection,
            index_table.c.record_id == record_id,
        )
    )
    insert_index(connection, tenant_id, app_key, collection, record_id, digests)


def insert_index(
    connection: Connection, tenant_id: str, app_key: str, collection: str, record_id: str, digests: dict[str, bytes]
) -> None:
    if digests:
        rows = [
            {
                "tenant_id": tenant_id,
                "app_key": app_key,
                "collection": collection,
                "record_id": record_id,
                "field": name,
                "digest": digest,
            }
            for name, digest in digests.items()
        ]
        connection.execute(insert(index_table), rows)
