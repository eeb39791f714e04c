"""Data-key rotation with re-encryption: move every record of a tenant to its newest data key (S4).

Rotation is resumable and safe to interrupt: records move over in small batches, each batch in one transaction, and
older key versions stay until the tenant is shredded, so a record is always readable under the version its header
names. Running :func:`reencrypt_tenant` again finishes an interrupted rotation; it is idempotent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from pledge.store import codec
from pledge.store.tables import index_table, record_where, records_table, replace_index
from pledge.vault import Vault

DEFAULT_BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class Rotation:
    tenant_id: str
    key_version: int
    records: int
    """Records re-encrypted by this call."""


def rotate_tenant_key(
    engine: Engine, vault: Vault, tenant_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Rotation:
    """Start a new data key version for the tenant and re-encrypt all its records (of every app) under it."""
    vault.rotate_data_key(tenant_id)
    return reencrypt_tenant(engine, vault, tenant_id, batch_size=batch_size)


def reencrypt_tenant(engine: Engine, vault: Vault, tenant_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Rotation:
    """Re-encrypt every record of the tenant still under an older key version; resumes an interrupted rotation."""
    target = vault.key_version(tenant_id)
    moved = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    records_table.c.app_key,
                    records_table.c.collection,
                    records_table.c.id,
                    records_table.c.revision,
                    records_table.c.payload,
                )
                .where(records_table.c.tenant_id == tenant_id, records_table.c.key_version < target)
                .order_by(records_table.c.app_key, records_table.c.collection, records_table.c.id)
                .limit(batch_size)
            ).all()
            indexed: dict[str, list[str]] = defaultdict(list)
            if rows:
                # Which fields are indexed is read from the index itself: rotation needs no app manifest.
                for record_id, field in connection.execute(
                    select(index_table.c.record_id, index_table.c.field).where(
                        index_table.c.tenant_id == tenant_id, index_table.c.record_id.in_([row.id for row in rows])
                    )
                ):
                    indexed[record_id].append(field)
        if not rows:
            return Rotation(tenant_id, target, moved)
        with engine.begin() as connection:
            for row in rows:
                scope = f"{row.app_key}/{row.collection}"
                encoded = codec.open_payload(vault, tenant_id, scope, row.id, row.payload)
                sealed = codec.seal(vault, tenant_id, scope, row.id, encoded, indexed[row.id], key_version=target)
                # The revision is compared: a record an app rewrote meanwhile is read again in the next batch.
                written = connection.execute(
                    update(records_table)
                    .where(
                        record_where(tenant_id, row.app_key, row.collection, row.id),
                        records_table.c.revision == row.revision,
                    )
                    .values(key_version=target, revision=row.revision + 1, payload=sealed.payload)
                ).rowcount
                if written == 1:
                    replace_index(connection, tenant_id, row.app_key, row.collection, row.id, sealed.digests)
                    moved += 1
