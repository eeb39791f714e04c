"""Restoring a backup: the whole system into an empty database, or one tenant into a live one.

Every segment a restore writes is checked against the authenticated manifest and opened before the first row is
written: a tampered, truncated or swapped segment stops the restore with nothing written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, MetaData, delete, func, insert, inspect, select, text

from pledge import schema
from pledge.backup import backup_format
from pledge.backup.backup_format import BackupCorrupt, Manifest
from pledge.backup.backups import Backups, Progress
from pledge.backup.tombstones import Gone, Tombstone
from pledge.errors import PledgeError
from pledge.tenants.shred_ledger import shredded_tenants
from pledge.vault.envelope import shredded_tenants_table


class NewerSchema(PledgeError):
    """The backup was written by a newer release: this one does not know its schema."""


class RestoreRefused(PledgeError):
    """The restore cannot go where it was asked to."""


@dataclass(frozen=True, slots=True)
class RestoreReport:
    backup_id: str
    tenants: tuple[str, ...]
    """The tenants restored."""
    shredded: tuple[str, ...]
    """Tenants the backup holds whose data keys are gone (shredded since): not restored, recorded as shredded."""
    left_out: tuple[Tombstone, ...]
    """Tenants the backup holds that the target's tombstones keep out (purged, or moved to another realm)."""
    rows: dict[str, int]
    """Rows written, by table."""


def check_revision(manifest: Manifest) -> None:
    if not schema.is_known_revision(manifest.schema_revision):
        raise NewerSchema(
            f"backup {manifest.backup_id} was written under schema revision {manifest.schema_revision}, newer than "
            f"this release knows ({', '.join(schema.expected_heads())}): restore it with the release that wrote it"
        )


def restore_all(
    backups: Backups, manifest: Manifest, engine: Engine, *, progress: Progress | None = None
) -> RestoreReport:
    """Write the whole backup into ``engine``'s empty database, then migrate it to this release's schema."""
    check_revision(manifest)
    if inspect(engine).get_table_names():
        raise RestoreRefused(
            "a whole-system restore writes into an empty database only: this one has tables "
            "(restore one tenant with --tenant, or point PLEDGE_DATABASE_URL at an empty database)"
        )
    # Read first: what they name is never opened, let alone written.
    tombstones = {t.tenant_id: t for t in backups.tombstones().values() if t.covers(manifest.created_at)}
    left_out = tuple(tombstones[s.tenant_id] for s in manifest.segments if s.tenant_id in tombstones)
    documents, shredded = _open_all(backups, manifest, tombstones, progress)
    platform = documents.pop("", {})
    tables = platform.get("tables")
    if not isinstance(tables, Mapping):
        raise BackupCorrupt(f"the platform segment of backup {manifest.backup_id} holds no tables")
    schema.upgrade(engine, manifest.schema_revision)
    reflected = MetaData()
    reflected.reflect(bind=engine)
    unknown = set(tables) - set(reflected.tables)
    if unknown:
        raise BackupCorrupt(f"backup {manifest.backup_id} holds tables its schema revision has not: {sorted(unknown)}")
    written: Counter[str] = Counter()
    with engine.begin() as connection:
        for table in reflected.sorted_tables:
            rows = backup_format.decode_rows(tables.get(table.name, []))
            if rows:
                connection.execute(delete(table))  # rows a migration seeded (a counter's one row) are the backup's
                connection.execute(insert(table), rows)
                written[table.name] += len(rows)
        already = set(connection.execute(select(shredded_tenants_table.c.tenant_id)).scalars())
        replayed = [
            {"tenant_id": tenant_id, "shredded_at": backups.clock.now()}
            for tenant_id in shredded
            if tenant_id not in already
        ]
        if replayed:
            connection.execute(insert(shredded_tenants_table), replayed)
            written[shredded_tenants_table.name] += len(replayed)
        _reset_sequences(connection, reflected)
    tenant_data = backups.tenant_data.on(engine)
    for tenant_id, document in documents.items():
        _with_keys(backups, document, tenant_id)
        tenant_data.import_(document)
        for part, rows in document["parts"].items():
            written[part] += len(rows)
    _check_counts(manifest, engine, set(documents), len(replayed))
    schema.upgrade(engine)
    return RestoreReport(manifest.backup_id, tuple(documents), tuple(shredded), left_out, dict(written))


def restore_tenant(backups: Backups, manifest: Manifest, tenant_id: str) -> RestoreReport:
    """Replace the tenant's rows in the live database with the backup's, in one transaction; no other tenant is
    touched."""
    check_revision(manifest)
    if not backup_format.TENANT_ID.fullmatch(tenant_id):
        raise RestoreRefused("a tenant id is 32 hex digits (see `pledge tenants list`)")
    with backups.engine.connect() as connection:
        if tenant_id in shredded_tenants(connection):
            raise RestoreRefused(
                f"tenant {tenant_id} was crypto-shredded: its data can never come back ({Gone.SHREDDED})"
            )
    tombstone = backups.tombstones().get(tenant_id)
    if tombstone is not None and tombstone.covers(manifest.created_at):
        raise RestoreRefused(tombstone.refusal())
    names = {segment.name for segment in manifest.segments}
    name = backup_format.tenant_segment_name(tenant_id)
    if name not in names:
        raise RestoreRefused(f"backup {manifest.backup_id} holds no tenant {tenant_id}")
    document = backups.open_segment(manifest, manifest.segment(name))
    if document is None:
        raise RestoreRefused(
            f"tenant {tenant_id}'s data keys are gone from the target: it was shredded ({Gone.SHREDDED})"
        )
    _with_keys(backups, document, tenant_id)
    backups.tenant_data.replace(document)
    rows = {part: len(listed) for part, listed in document["parts"].items()}
    return RestoreReport(manifest.backup_id, (tenant_id,), (), (), rows)


def _open_all(
    backups: Backups, manifest: Manifest, tombstones: Mapping[str, Tombstone], progress: Progress | None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every segment opened, by tenant id ("" for the platform), but those the tombstones name; and the tenants
    whose keys are gone or that a tombstone says were shredded."""
    documents: dict[str, dict[str, Any]] = {}
    shredded = [*manifest.shredded, *(t.tenant_id for t in tombstones.values() if t.gone is Gone.SHREDDED)]
    for done, segment in enumerate(manifest.segments, start=1):
        if segment.tenant_id not in tombstones:  # one that is, is never opened, whether or not key copies remain
            document = backups.open_segment(manifest, segment)
            if document is None:
                shredded.append(segment.tenant_id)
            elif segment.tenant_id and document.get("tenantId") != segment.tenant_id:
                raise BackupCorrupt(f"segment {segment.name} of backup {manifest.backup_id} holds another tenant")
            else:
                documents[segment.tenant_id] = document
        if progress:
            progress(done, len(manifest.segments))
    if "" not in documents:
        raise BackupCorrupt(f"backup {manifest.backup_id} has no platform segment")
    return documents, sorted(set(shredded))


def _with_keys(backups: Backups, document: dict[str, Any], tenant_id: str) -> None:
    parts = document.get("parts")
    if not isinstance(parts, dict):
        raise BackupCorrupt(f"the segment of tenant {tenant_id} holds no parts")
    parts[backups.vault.tenant_keys().name] = backup_format.encode_rows(backups.key_rows(tenant_id))


def _reset_sequences(connection: Any, reflected: MetaData) -> None:
    """PostgreSQL: rows written with their ids leave each serial sequence behind them; move it past the largest."""
    if connection.dialect.name != "postgresql":
        return
    for table in reflected.sorted_tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
            ).scalar()
            if sequence:
                following = connection.execute(select(func.coalesce(func.max(column), 0) + 1)).scalar_one()
                connection.execute(
                    text("SELECT setval(:sequence, :value, false)"), {"sequence": sequence, "value": following}
                )


def _check_counts(manifest: Manifest, engine: Engine, restored: set[str], replayed: int) -> None:
    """Every table holds as many rows as the manifest says the backup's restored segments hold."""
    expected: Counter[str] = Counter()
    for segment in manifest.segments:
        if not segment.tenant_id or segment.tenant_id in restored:
            expected.update(segment.rows)
    expected[shredded_tenants_table.name] += replayed
    reflected = MetaData()
    reflected.reflect(bind=engine)
    with engine.connect() as connection:
        for name, count in sorted(expected.items()):
            if name in reflected.tables:
                found = connection.execute(select(func.count()).select_from(reflected.tables[name])).scalar_one()
                if found != count:
                    raise BackupCorrupt(f"restored {found} rows of {name}; backup {manifest.backup_id} lists {count}")
