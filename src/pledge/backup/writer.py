"""Making a backup: one snapshot, a sealed segment per tenant and one for the platform, the manifest last.

Anything that goes wrong — a keyring that cannot unwrap, a tenant without a key, a target that refuses — raises
and leaves no manifest, so the backup never lists as complete; nothing is ever written unsealed (backup_format).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from importlib.metadata import version as package_version
from typing import Any, Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, MetaData, select

from pledge import schema
from pledge.backup import backup_format
from pledge.backup.backup_format import Manifest, Segment
from pledge.backup.backups import Backups, Progress, created_at, retain_until
from pledge.backup.snapshot import read_snapshot
from pledge.backup.target import BackupTarget, ObjectExists
from pledge.backup.tombstones import Gone
from pledge.errors import PledgeError
from pledge.tenantdata import Row
from pledge.tenants.registry import tenants_table
from pledge.vault import KeyShredded, WrappedKey
from pledge.vault.envelope import data_key_context, shredded_tenants_table

log = logging.getLogger("pledge.backup")


class KeyMissing(PledgeError):
    """A tenant's data key cannot be found: its segment cannot be sealed, so the backup stops."""


TENANTS_PER_READ: Final = 100
"""Tenants whose rows one query reads, part by part: a few queries per hundred tenants rather than per tenant."""
UPLOAD_THREADS: Final = 4
MAX_IN_FLIGHT: Final = 16
ORPHAN_AGE: Final = timedelta(days=1)
"""Segments of a backup without a manifest are swept once this old: a younger one may be another run's, still going."""
NOT_PLATFORM: Final = frozenset({"alembic_version", "tenant_changes", "tenant_change_counter"})
"""Tables no segment holds: the schema revision is in the manifest; the tenant change numbers are this database's own,
for running instances' caches (docs/connect.md), and a restored database numbers its changes afresh."""
AFTER_FIRST_SEGMENT_HOOK: Final = "PLEDGE_TEST_BACKUP_PAUSE_AFTER_SEGMENT"
"""Test hook (the suite's own PLEDGE_TEST_ prefix): after the first segment, the run writes this file and waits, so a
test can kill it there."""


def run_backup(
    backups: Backups, *, progress: Progress | None = None, before_publish: Callable[[], None] = lambda: None
) -> Manifest:
    """Make a complete backup of the database in the target; its manifest. ``before_publish`` runs just before the
    manifest is written (a job checks its lease there)."""
    sweep_orphans(backups)
    now = backups.clock.now()
    backup_id = f"{now.strftime('%Y%m%dt%H%M%Sz')}-{secrets.token_hex(4)}"
    keep_until = retain_until(backups, now)
    known_keys = set(backups.target.list("keys/"))
    with _Uploads(backups.target) as uploads, read_snapshot(backups.engine) as connection:
        revision = schema.current_revision(connection)
        tenant_ids = [
            str(t) for t in connection.execute(select(tenants_table.c.id).order_by(tenants_table.c.id)).scalars()
        ]
        shredded = {str(t) for t in connection.execute(select(shredded_tenants_table.c.tenant_id)).scalars()}
        live = [tenant_id for tenant_id in tenant_ids if tenant_id not in shredded]
        total = len(live) + 1
        platform_key = AESGCM.generate_key(bit_length=256)
        document, rows = _platform_document(connection, backups)
        uploads.submit(
            partial(
                backup_format.seal_segment,
                platform_key,
                document,
                backup_id=backup_id,
                name=backup_format.PLATFORM_SEGMENT,
                tenant_id="",
                key_version=0,
            ),
            backup_format.segment_object(backup_id, backup_format.PLATFORM_SEGMENT),
            partial(backup_format.segment_entry, backup_format.PLATFORM_SEGMENT, "", 0, rows=rows),
            keep_until,
        )
        _pause_for_tests(uploads)
        if progress:
            progress(1, total)
        key_part = backups.vault.tenant_keys()
        tenant_data = backups.tenant_data.without(key_part.name)
        sealing = _Sealing(backup_id, uploads, known_keys, keep_until)
        for start in range(0, len(live), TENANTS_PER_READ):
            chunk = live[start : start + TENANTS_PER_READ]
            keys = key_part.export_rows_of(connection, chunk)
            for document in tenant_data.export_many_in(connection, chunk):
                tenant_id = str(document["tenantId"])
                if not sealing.tenant_segment(backups, document, keys[tenant_id]):
                    shredded.add(tenant_id)
            if progress:
                progress(1 + start + len(chunk), total)
        segments = uploads.finish()
    manifest = Manifest(
        backup_id=backup_id,
        created_at=now,
        schema_revision=revision,
        engine=backups.engine.dialect.name,
        pledge_version=package_version("pledge"),
        tenants=tuple(segment.tenant_id for segment in segments if segment.tenant_id),
        shredded=tuple(sorted(shredded)),
        segments=tuple(segments),
        platform_key=platform_key,
    )
    before_publish()
    backups.target.put(
        backup_format.manifest_object(backup_id),
        backup_format.seal_manifest(manifest, backups.vault.keyring),
        retain_until=keep_until,
    )
    # A tenant a purge shredded while this run went on: the key copies this run wrote for it may have come after the
    # purge's backups step deleted them, so they go now (read outside the snapshot, which predates the shred).
    with backups.engine.connect() as now_live:
        shredded |= set(now_live.execute(select(shredded_tenants_table.c.tenant_id)).scalars()) & set(live)
    buried = set(backups.target.list(f"{Gone.SHREDDED.folder}/"))
    for tenant_id in sorted(shredded):
        if f"{Gone.SHREDDED.folder}/{tenant_id}" in buried:
            backups.forget_tenant_keys(tenant_id)  # a purge buried it; a key copy it could not delete goes now
        else:
            backups.bury(tenant_id, Gone.SHREDDED)  # shredded by other means than a purge
    log.info("backup %s: %d segments, %d bytes", backup_id, len(segments), manifest.size)
    return manifest


def sweep_orphans(backups: Backups) -> list[str]:
    """Delete the objects of backups that never got a manifest and are older than :data:`ORPHAN_AGE`; their ids."""
    complete = set(backups.complete_ids())
    cutoff = backups.clock.now() - ORPHAN_AGE
    orphans: dict[str, list[str]] = {}
    for name in backups.target.list("backups/"):
        backup_id = name.split("/")[1]
        if (
            backup_id not in complete
            and backup_format.BACKUP_ID.fullmatch(backup_id)
            and created_at(backup_id) < cutoff
        ):
            orphans.setdefault(backup_id, []).append(name)
    for names in orphans.values():
        for name in names:
            backups.target.delete(name)
    return sorted(orphans)


def _platform_document(connection: Connection, backups: Backups) -> tuple[dict[str, object], dict[str, int]]:
    """Every table that is not tenant data, as reflected from the database itself: none is forgotten."""
    reflected = MetaData()
    reflected.reflect(bind=connection)
    tenant_tables = set(backups.tenant_data.names)
    tables: dict[str, object] = {}
    rows: dict[str, int] = {}
    for table in reflected.sorted_tables:
        if table.name in tenant_tables or table.name in NOT_PLATFORM:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        found = [dict(row) for row in connection.execute(select(table).order_by(*order)).mappings()]
        tables[table.name] = found
        rows[table.name] = len(found)
    return {"format": backup_format.PLATFORM_FORMAT, "tables": tables}, rows


@dataclass(frozen=True, slots=True)
class _Sealing:
    """What every tenant segment of one backup shares."""

    backup_id: str
    uploads: _Uploads
    known_keys: set[str]
    """``keys/`` objects the target holds."""
    keep_until: datetime

    def tenant_segment(self, backups: Backups, document: dict[str, Any], key_rows: list[Row]) -> bool:
        """Make sure the target holds the tenant's wrapped keys and have its exported data sealed under its current
        data key and put; False if the tenant was shredded meanwhile (no key to seal under, and nothing of it may
        be kept)."""
        tenant_id = str(document["tenantId"])
        if not key_rows:
            found = _first_key(backups, tenant_id)
            if found is None:
                return False
            key_rows = found
        if not key_rows:
            raise KeyMissing(f"tenant {tenant_id} has no data key to seal its backup under: nothing was published")
        for row in key_rows:
            name = backup_format.key_object(tenant_id, _int(row["version"]))
            if name not in self.known_keys:
                with contextlib.suppress(ObjectExists):  # another run wrote the same key: keys never change
                    backups.target.put(name, backup_format.encode_key(row))
                self.known_keys.add(name)
        current = max(key_rows, key=lambda row: _int(row["version"]))
        version = _int(current["version"])
        key = _unwrap(backups, tenant_id, current)
        name = backup_format.tenant_segment_name(tenant_id)
        rows = {part: len(listed) for part, listed in document["parts"].items()}
        self.uploads.submit(
            partial(
                backup_format.seal_segment,
                key,
                document,
                backup_id=self.backup_id,
                name=name,
                tenant_id=tenant_id,
                key_version=version,
            ),
            backup_format.segment_object(self.backup_id, name),
            partial(backup_format.segment_entry, name, tenant_id, version, rows=rows),
            self.keep_until,
        )
        return True


def _first_key(backups: Backups, tenant_id: str) -> list[Row] | None:
    """A tenant that never wrote a record has no data key yet: it gets one now (in its own transaction), as its
    first write would have given it. None if the tenant was shredded meanwhile."""
    try:
        backups.vault.key_version(tenant_id)
    except KeyShredded:
        return None
    with backups.engine.connect() as fresh:
        return backups.vault.tenant_keys().export_rows(fresh, tenant_id)


class _Uploads:
    """Segments sealed and put on a few threads, so that compressing, encrypting and the target's latency (a
    directory's fsync, an S3 round trip) overlap the next tenant's export; at most :data:`MAX_IN_FLIGHT` wait at a
    time, which bounds memory. The first failure is raised by the next :meth:`submit` or by :meth:`finish`, before
    any manifest is written."""

    def __init__(self, target: BackupTarget) -> None:
        self._target = target
        self._pool = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="pledge-backup")
        self._pending: deque[Future[Segment]] = deque()
        self._done: list[Future[Segment]] = []

    def __enter__(self) -> _Uploads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, seal: Callable[[], bytes], name: str, entry: Callable[[bytes], Segment], keep: datetime) -> None:
        """Seal on a thread, put the object under ``name``, and keep its manifest entry (in submission order)."""
        while len(self._pending) >= MAX_IN_FLIGHT:
            self._pending.popleft().result()

        def work() -> Segment:
            sealed = seal()
            self._target.put(name, sealed, retain_until=keep)
            return entry(sealed)

        future = self._pool.submit(work)
        self._pending.append(future)
        self._done.append(future)

    def wait(self) -> None:
        """Return once every segment submitted so far is put; raise the first failure."""
        while self._pending:
            self._pending.popleft().result()

    def finish(self) -> list[Segment]:
        """Every segment's entry, in the order submitted, once all are put."""
        self.wait()
        return [future.result() for future in self._done]


def _unwrap(backups: Backups, tenant_id: str, row: Row) -> bytes:
    wrapped = row["wrapped_key"]
    assert isinstance(wrapped, bytes)
    version = _int(row["version"])
    return backups.vault.keyring.unwrap(WrappedKey(str(row["kek_id"]), wrapped), data_key_context(tenant_id, version))


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _pause_for_tests(uploads: _Uploads) -> None:
    marker = os.environ.get(AFTER_FIRST_SEGMENT_HOOK)
    if marker:
        uploads.wait()  # the segment is put on a thread: the test looks for it once the marker is there
        with open(marker, "w") as handle:
            handle.write("paused")
        signal.pause()
