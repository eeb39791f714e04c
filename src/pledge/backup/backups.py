"""A deployment's backups: what making, listing, verifying, restoring and pruning them needs, in one place.

Built from the runtime's parts by the layers above (``pledge.serving.backups_for``); nothing here knows the runtime.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine

from pledge.backup.backup_format import (
    BACKUP_ID,
    Manifest,
    Segment,
    check_hash,
    decode_key,
    key_object,
    manifest_object,
    open_manifest,
    open_segment,
    segment_object,
)
from pledge.backup.target import BackupTarget, ObjectMissing
from pledge.backup.tombstones import Gone, Tombstone, read_tombstones, write_tombstone
from pledge.clock import Clock
from pledge.errors import PledgeError
from pledge.tenantdata import Row, TenantDataSet
from pledge.vault import Vault, WrappedKey
from pledge.vault.envelope import data_key_context

Progress = Callable[[int, int], None]
"""Called with (done, total) as segments are written or read."""

_MANIFEST_NAME: Final = re.compile(r"backups/([0-9a-z-]+)/manifest")
_KEY_NAME: Final = re.compile(r"keys/([0-9a-f]{32})/([1-9][0-9]{0,8})")


class NoBackup(PledgeError):
    """No complete backup matches."""


@dataclass(frozen=True, slots=True)
class RetentionTiers:
    """Kept beyond the daily window, restic-style: the newest backup of each of the last ``weeks`` ISO weeks and of
    the last ``months`` calendar months that have a backup (0: none)."""

    weeks: int = 0
    months: int = 0


@dataclass(frozen=True)
class Backups:
    engine: Engine
    vault: Vault
    tenant_data: TenantDataSet
    target: BackupTarget
    clock: Clock
    retention_days: int
    tiers: RetentionTiers = RetentionTiers()

    def complete_ids(self) -> list[str]:
        """Ids of the backups whose manifest exists, oldest first (they sort by time)."""
        ids = []
        for name in self.target.list("backups/"):
            found = _MANIFEST_NAME.fullmatch(name)
            if found and BACKUP_ID.fullmatch(found.group(1)):
                ids.append(found.group(1))
        return sorted(ids)

    def manifest(self, backup_id: str) -> Manifest:
        """The authenticated manifest of ``backup_id`` (:class:`BackupCorrupt` if it does not authenticate)."""
        if not BACKUP_ID.fullmatch(backup_id):
            raise NoBackup(f"{backup_id!r} is not a backup id (see `pledge backup list`)")
        try:
            data = self.target.get(manifest_object(backup_id))
        except ObjectMissing:
            raise NoBackup(f"no complete backup {backup_id} in {self.target.description}") from None
        return open_manifest(data, self.vault.keyring, backup_id)

    def latest(self, at: datetime | None = None) -> Manifest:
        """The newest complete backup (made at or before ``at``, if given)."""
        for backup_id in reversed(self.complete_ids()):
            if at is None or created_at(backup_id) <= at:
                return self.manifest(backup_id)
        when = "" if at is None else f" made at or before {at.isoformat()}"
        raise NoBackup(f"no complete backup{when} in {self.target.description}: run `pledge backup run`")

    def key_versions(self, tenant_id: str) -> list[int]:
        """Versions of the tenant's data keys the target keeps (none once it was shredded)."""
        versions = []
        for name in self.target.list(f"keys/{tenant_id}/"):
            found = _KEY_NAME.fullmatch(name)
            if found and found.group(1) == tenant_id:
                versions.append(int(found.group(2)))
        return sorted(versions)

    def key_rows(self, tenant_id: str) -> list[Row]:
        """The tenant's ``data_keys`` rows as the target keeps them (wrapped by the KEK)."""
        return [
            decode_key(self.target.get(key_object(tenant_id, version)), tenant_id, version)
            for version in self.key_versions(tenant_id)
        ]

    def open_segment(self, manifest: Manifest, segment: Segment) -> dict[str, Any] | None:
        """The segment's document, checked against the manifest and opened; None for a tenant whose data keys are
        gone from the target (shredded since): its segment can never be read again."""
        sealed = self.target.get(segment_object(manifest.backup_id, segment.name))
        check_hash(sealed, manifest, segment)
        if not segment.tenant_id:
            return open_segment(manifest.platform_key, sealed, manifest, segment)
        rows = [row for row in self.key_rows(segment.tenant_id) if row["version"] == segment.key_version]
        if not rows:
            return None
        wrapped = rows[0]["wrapped_key"]
        assert isinstance(wrapped, bytes)
        key = self.vault.keyring.unwrap(
            WrappedKey(str(rows[0]["kek_id"]), wrapped), data_key_context(segment.tenant_id, segment.key_version)
        )
        return open_segment(key, sealed, manifest, segment)

    def forget_tenant_keys(self, tenant_id: str) -> int:
        """Delete the target's copies of a tenant's data keys: its segment in every retained backup becomes
        unreadable for good. How many were deleted."""
        versions = self.key_versions(tenant_id)
        for version in versions:
            self.target.delete(key_object(tenant_id, version))
        return len(versions)

    def bury(self, tenant_id: str, gone: Gone, *, realm: str = "") -> None:
        """What a purge (``SHREDDED``) or a realm migration's commit at its source (``DEPARTED``) leaves in the
        target: the tombstone first, so that a restore leaves the tenant out even before its key copies are gone,
        then the key copies deleted. Safe to repeat."""
        tombstone = Tombstone(tenant_id, gone, self.clock.now(), realm)
        write_tombstone(self.target, self.vault.keyring, tombstone, retain_until(self, tombstone.at))
        self.forget_tenant_keys(tenant_id)

    def tombstones(self) -> dict[str, Tombstone]:
        """The tenants no restore from this target may bring back, by id (authenticated: see tombstones)."""
        return read_tombstones(self.target, self.vault.keyring)


def created_at(backup_id: str) -> datetime:
    """When a backup's snapshot was taken, read from its id."""
    return datetime.strptime(backup_id[:16], "%Y%m%dt%H%M%Sz").replace(tzinfo=UTC)


def retain_until(backups: Backups, made: datetime) -> datetime:
    return made + timedelta(days=backups.retention_days)
