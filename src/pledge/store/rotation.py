"""Data-key rotation with re-encryption: move every record and sealed secret of a tenant to its newest data key (S4).

Rotation is resumable and safe to interrupt: records move over in small batches, each batch in one transaction, and
older key versions stay until the tenant is shredded, so a record is always readable under the version its header
names. Running :func:`reencrypt_tenant` again finishes an interrupted rotation; it is idempotent. Whoever rotates
(the CLI, a job, a test), the tenant registry's sealed secrets are sealed again too: everything the key covers moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, tuple_

import pledge.store.codec as codec
import pledge.store.tables as tables
from pledge.store.tables import records_table
from pledge.tenants import reseal_secrets
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
    """Re-encrypt every record, and re-seal every secret, of the tenant still under an older key version; resumes an
    interrupted rotation."""
    target = vault.key_version(tenant_id)
    moved = 0
    position = ("", "", "")
    while True:
        # Keyset pagination over the primary key: each record is visited once per call, however many there are.
        app_key, collection, record_id = position
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    records_table.c.app_key,
                    records_table.c.collection,
                    records_table.c.id,
                    records_table.c.key_version,
                    records_table.c.revision,
                    records_table.c.payload,
                    records_table.c.updated_at,
                    *(records_table.c[name] for name in tables.INDEX_COLUMNS),
                )
                .where(
                    records_table.c.tenant_id == tenant_id,
                    tuple_(records_table.c.app_key, records_table.c.collection, records_table.c.id)
                    > tuple_(app_key, collection, record_id),
                )
                .order_by(records_table.c.app_key, records_table.c.collection, records_table.c.id)
                .limit(batch_size)
            ).all()
        if not rows:
            reseal_secrets(engine, vault, tenant_id)
            return Rotation(tenant_id, target, moved)
        position = (rows[-1].app_key, rows[-1].collection, rows[-1].id)
        with engine.begin() as connection:
            for row in rows:
                if row.key_version >= target:
                    continue
                scope = f"{row.app_key}/{row.collection}"
                encoded = codec.encode_fields(codec.open_payload(vault, tenant_id, scope, row.id, row.payload))
                # Which field each slot indexes is read from the digests themselves: rotation needs no manifest.
                digests = [row._mapping[name] for name in tables.INDEX_COLUMNS]
                indexed = codec.indexed_fields(vault, tenant_id, scope, row.key_version, encoded, digests)
                sealed = codec.seal(vault, tenant_id, scope, row.id, encoded, indexed, key_version=target)
                # The revision is compared: a record an app rewrote meanwhile was re-encrypted by that write.
                written = connection.execute(
                    tables.UPDATE_RECORD,
                    {
                        **tables.record_key(tenant_id, row.app_key, row.collection, row.id),
                        "seen": row.revision,
                        "new_key_version": target,
                        "new_payload": sealed.payload,
                        "new_updated_at": row.updated_at,  # rotation is not a change of the record
                        **tables.updated_index_values(sealed.digests),
                    },
                ).rowcount
                moved += written
