"""Done-when for S2/S4: personal data and secrets written through the store are nowhere in the database in clear.

The PII corpus's true positives go into personal fields (indexed, so blind indexes are written too), secrets into
secret fields and the tenant registry; records are updated, re-keyed and some deleted. Then the whole database is
searched: on SQLite the database file, its WAL and shared-memory files, before and after a checkpoint; on PostgreSQL
a COPY of every table, the data pg_dump would write. A clear-text value the database does hold by design (the
tenant's base URL) is searched for too, to prove that the search finds what is there.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import Secret, TenantStore, rotate_tenant_key
from pledge.store.pii import scan
from pledge.tenants import Tenant

try:  # tests/ may or may not become a package; the corpus sits next to this file either way
    from .pii_corpus import TRUE_POSITIVES
except ImportError:
    from pii_corpus import TRUE_POSITIVES  # type: ignore[no-redef]


def _database_bytes(engine: Engine) -> bytes:
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        files = sorted(database.parent.glob(database.name + "*"))
        before = b"".join(f.read_bytes() for f in files)
        with engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return before + database.read_bytes()
    dump = bytearray()
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            for table in inspect(engine).get_table_names():
                with cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                    for block in copy:
                        dump += block
    finally:
        raw.close()
    return bytes(dump)


def _needles() -> list[str]:
    personal = [text[f.start : f.end] for _, text, _ in TRUE_POSITIVES for f in scan(text)]
    assert len(personal) >= len(TRUE_POSITIVES)
    return personal


def _found(haystack: bytes, needle: str) -> bool:
    encoded = needle.encode()
    return encoded in haystack or encoded.hex().encode() in haystack


def test_no_personal_data_or_secret_is_in_the_database_in_clear(
    runtime: Runtime, store: TenantStore, tenant: Tenant, mailer: App
) -> None:
    secrets = [f"smtp-{uuid.uuid4().hex}" for _ in range(5)]
    shared_secret = f"connect-{uuid.uuid4().hex}"
    runtime.tenants.set_shared_secret(tenant.id, shared_secret)
    ids = []
    for i, (_, value, _) in enumerate(TRUE_POSITIVES):
        record = store.create(
            "rules", {"name": f"rule {i}", "recipient": value, "smtp_password": Secret(secrets[i % len(secrets)])}
        )
        ids.append(record.id)
    for i, (_, value, _) in enumerate(TRUE_POSITIVES):
        store.update("rules", ids[i], {"owner": value})
    rotate_tenant_key(runtime.engine, runtime.vault, tenant.id)
    for record_id in ids[::4]:
        store.delete("rules", record_id)
    assert store.list("rules", where={"owner": TRUE_POSITIVES[1][1]})[0].id == ids[1]
    assert store.get("rules", ids[1])["smtp_password"].reveal() in secrets

    haystack = _database_bytes(runtime.engine)

    assert _found(haystack, tenant.base_url), "the search does not see what the database holds"
    leaked = [n for n in [*_needles(), *secrets, shared_secret] if _found(haystack, n)]
    assert leaked == []
