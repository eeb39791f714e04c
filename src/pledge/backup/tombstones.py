"""The target's own shred ledger: which tenants no restore from it may bring back (docs/backup-format.md, S7, S1).

A restore into a fresh database (the database lost, its shred ledger with it) still finds, beside the backups,
``shredded/<tenant id>`` for every purged tenant and ``departed/<tenant id>/<time>`` for every time a realm
migration moved a tenant away from here. Each holds the tenant's internal id, a time and (departed) the realm:
nothing personal. Each is authenticated under the keyring's KEK, so someone who can write to the target but has no
KEK can neither make a restore leave a live tenant out (a forged tombstone stops the restore, named) nor swap one
tenant's tombstone for another's. With S3 Object Lock a tombstone cannot be deleted while a backup that may hold its
tenant is retained.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pledge.backup.backup_format import TENANT_ID, BackupCorrupt
from pledge.backup.target import BackupTarget, ObjectExists
from pledge.vault import Keyring, KeyringError, WrappedKey

TOMBSTONE_FORMAT: Final = "pledge-backup-tombstone/1"
_NAME: Final = re.compile(r"shredded/[0-9a-f]{32}|departed/[0-9a-f]{32}/[0-9]{8}t[0-9]{12}z")


class Gone(enum.StrEnum):
    """Why a tenant must not come back from a backup; the value is the reason code a refusal names."""

    SHREDDED = "tenant_data_shredded"
    """Purged (or its keys otherwise shredded): its data is gone by design."""
    DEPARTED = "pinned_elsewhere"
    """Moved to another realm by a realm migration: its data lives there now."""

    @property
    def folder(self) -> str:
        return "shredded" if self is Gone.SHREDDED else "departed"


@dataclass(frozen=True, slots=True)
class Tombstone:
    tenant_id: str
    gone: Gone
    at: datetime
    realm: str = ""
    """Where a departed tenant went ("" for a shredded one)."""

    @property
    def name(self) -> str:
        if self.gone is Gone.SHREDDED:
            return f"shredded/{self.tenant_id}"
        # One per departure: a tenant may come back by another migration, and leave again.
        return f"departed/{self.tenant_id}/{self.at.astimezone(UTC).strftime('%Y%m%dt%H%M%S%fz')}"

    def covers(self, made: datetime) -> bool:
        """Whether a backup made at ``made`` must not bring the tenant back: a shred is for ever; a departure
        covers the backups made before it (a later one holds the tenant only if it came back since)."""
        return self.gone is Gone.SHREDDED or made < self.at

    def refusal(self) -> str:
        """One line for an operator: what the restore did with this tenant, and the reason code."""
        if self.gone is Gone.SHREDDED:
            return f"tenant {self.tenant_id} was purged at {_iso(self.at)}: its data can never come back ({self.gone})"
        return (
            f"tenant {self.tenant_id} moved to realm {self.realm} at {_iso(self.at)}: its data lives there now, "
            f"not here ({self.gone})"
        )


def write_tombstone(target: BackupTarget, keyring: Keyring, tombstone: Tombstone, retain_until: datetime) -> None:
    """Store ``tombstone`` in ``target`` (nothing happens if it is there already: a tombstone never changes)."""
    authenticator = keyring.wrap(secrets.token_bytes(32), _context(tombstone))
    document = {
        "format": TOMBSTONE_FORMAT,
        "tenantId": tombstone.tenant_id,
        "gone": tombstone.gone.value,
        "at": tombstone.at.isoformat(),
        "realm": tombstone.realm,
        "kekId": authenticator.kek_id,
        "authenticator": base64.b64encode(authenticator.ciphertext).decode(),
    }
    with contextlib.suppress(ObjectExists):
        target.put(tombstone.name, json.dumps(document, separators=(",", ":")).encode(), retain_until=retain_until)


def read_tombstones(target: BackupTarget, keyring: Keyring) -> dict[str, Tombstone]:
    """The tombstone that counts for each tenant in ``target``, by tenant id: its shred, else its latest departure.
    :class:`BackupCorrupt` for any that does not authenticate under the keyring, so that no forged object decides
    what a restore leaves out."""
    found: dict[str, Tombstone] = {}
    for folder in (Gone.DEPARTED.folder, Gone.SHREDDED.folder):
        for name in target.list(f"{folder}/"):  # sorted: a tenant's departures oldest first
            tombstone = _read(target, keyring, name)
            found[tombstone.tenant_id] = tombstone
    return found


def _read(target: BackupTarget, keyring: Keyring, name: str) -> Tombstone:
    forged = BackupCorrupt(
        f"{name} in {target.description} does not authenticate under this keyring: it was not written by a purge or "
        "realm migration of this deployment; nothing was restored (check it, and remove it if it is not yours)"
    )
    if not _NAME.fullmatch(name):
        raise forged
    try:
        document = json.loads(target.get(name))
        tombstone = Tombstone(
            tenant_id=str(document["tenantId"]),
            gone=Gone(document["gone"]),
            at=datetime.fromisoformat(document["at"]),
            realm=str(document["realm"]),
        )
        authenticator = WrappedKey(str(document["kekId"]), base64.b64decode(document["authenticator"], validate=True))
        if document["format"] != TOMBSTONE_FORMAT or tombstone.name != name or tombstone.at.tzinfo is None:
            raise ValueError("another object")
        keyring.unwrap(authenticator, _context(tombstone))
    except (ValueError, KeyError, TypeError, binascii.Error, KeyringError):
        raise forged from None
    return tombstone


def _context(tombstone: Tombstone) -> bytes:
    # The wrap's associated data binds every field: the authenticator opens only for exactly this tombstone.
    if not TENANT_ID.fullmatch(tombstone.tenant_id):
        raise ValueError("a tenant id is 32 hex digits")
    fields = (TOMBSTONE_FORMAT, tombstone.gone.value, tombstone.tenant_id, tombstone.at.isoformat(), tombstone.realm)
    return json.dumps(fields, separators=(",", ":")).encode()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
