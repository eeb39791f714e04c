"""The bytes of a backup (docs/backup-format.md): sealed segments, the authenticated manifest, the platform key, the
``keys/`` objects and the platform segment's rows.

Every segment passes through :func:`seal_segment` on its way to a target: there is no other writer of segment bytes,
so there is no path on which a segment leaves unsealed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
import zstandard

from pledge.errors import PledgeError
from pledge.tenantdata import Row
from pledge.vault import AssociatedData, CiphertextInvalid, Keyring, KeyringError, WrappedKey, aead

FORMAT: Final = "pledge-backup/1"
PLATFORM_FORMAT: Final = "pledge-backup-platform/1"
KEY_FORMAT: Final = "pledge-backup-key/1"
MAGIC: Final = b"PLEDGE-BACKUP/1\n"
SEGMENT_PURPOSE: Final = "pledge/backup-segment/1"
MANIFEST_PURPOSE: Final = "pledge/backup-manifest/1"
PLATFORM_SEGMENT: Final = "platform"
_ZSTD_LEVEL = 3
MAX_SEGMENT_BYTES: Final = 1 << 34
"""What a reader decompresses at most: a corrupt or hostile frame cannot claim more memory than this."""
MAX_MANIFEST_BYTES: Final = 1 << 28
BACKUP_ID: Final = re.compile(r"[0-9]{8}t[0-9]{6}z-[0-9a-f]{8}")
TENANT_ID: Final = re.compile(r"[0-9a-f]{32}")


class BackupCorrupt(PledgeError):
    """An object of a backup does not authenticate: altered, truncated, swapped, or of another backup or tenant."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment as the manifest lists it."""

    name: str
    tenant_id: str
    """Empty for the platform segment."""
    key_version: int
    """The tenant's data key version that seals it; 0 for the platform segment (sealed under the platform key)."""
    sha256: str
    size: int
    rows: dict[str, int]


@dataclass(frozen=True, slots=True)
class Manifest:
    backup_id: str
    created_at: datetime
    schema_revision: str
    engine: str
    pledge_version: str
    tenants: tuple[str, ...]
    shredded: tuple[str, ...]
    segments: tuple[Segment, ...]
    platform_key: bytes = field(repr=False)
    """The backup's platform key, unwrapped (never written in the clear)."""

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)

    def segment(self, name: str) -> Segment:
        for segment in self.segments:
            if segment.name == name:
                return segment
        raise BackupCorrupt(f"backup {self.backup_id} has no segment {name}")


def tenant_segment_name(tenant_id: str) -> str:
    return f"tenant-{tenant_id}"


def segment_object(backup_id: str, name: str) -> str:
    return f"backups/{backup_id}/segments/{name}"


def manifest_object(backup_id: str) -> str:
    return f"backups/{backup_id}/manifest"


def key_object(tenant_id: str, version: int) -> str:
    return f"keys/{tenant_id}/{version}"


def platform_key_context(backup_id: str) -> bytes:
    return f"pledge/backup-key/1|{backup_id}".encode()


def seal_segment(
    key: bytes, document: Mapping[str, Any], *, backup_id: str, name: str, tenant_id: str, key_version: int
) -> bytes:
    """The segment object: the document as JSON, zstd-compressed, sealed under ``key`` bound to where it belongs.
    Rows may hold bytes and datetimes as read from the database: they are written as ``$bytes`` and ``$datetime``."""
    compressed = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(segment_json(document))
    return aead.seal(key, compressed, _segment_aad(backup_id, name, tenant_id, key_version))


def segment_json(document: Mapping[str, Any]) -> bytes:
    """A segment's document as compact UTF-8 JSON, bytes and datetimes tagged (``$bytes``, ``$datetime``)."""
    # orjson tags values in the one pass that writes them: json.dumps over rows tagged beforehand was most of a
    # backup's time in bench/backup.py. Column names are SQLAlchemy's str subclass: NON_STR_KEYS accepts them.
    return orjson.dumps(document, default=_tagged, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS)


def open_segment(key: bytes, sealed: bytes, manifest: Manifest, segment: Segment) -> dict[str, Any]:
    """The segment's document; :class:`BackupCorrupt` unless the object is the one the manifest lists, unaltered."""
    check_hash(sealed, manifest, segment)
    try:
        compressed = aead.open(
            key, sealed, _segment_aad(manifest.backup_id, segment.name, segment.tenant_id, segment.key_version)
        )
        plain = zstandard.ZstdDecompressor().decompress(compressed, max_output_size=MAX_SEGMENT_BYTES)
        document = json.loads(plain)
    except CiphertextInvalid:
        raise BackupCorrupt(f"segment {segment.name} of backup {manifest.backup_id} does not open") from None
    except (zstandard.ZstdError, ValueError):
        raise BackupCorrupt(f"segment {segment.name} of backup {manifest.backup_id} is not a segment") from None
    if not isinstance(document, dict):
        raise BackupCorrupt(f"segment {segment.name} of backup {manifest.backup_id} is not a segment")
    return document


def check_hash(sealed: bytes, manifest: Manifest, segment: Segment) -> None:
    if len(sealed) != segment.size or hashlib.sha256(sealed).hexdigest() != segment.sha256:
        raise BackupCorrupt(
            f"segment {segment.name} of backup {manifest.backup_id} is not the one its manifest lists "
            "(altered, truncated or swapped)"
        )


def _segment_aad(backup_id: str, name: str, tenant_id: str, key_version: int) -> AssociatedData:
    return AssociatedData(SEGMENT_PURPOSE, backup_id, name, tenant_id, str(key_version), FORMAT)


def segment_entry(name: str, tenant_id: str, key_version: int, sealed: bytes, rows: dict[str, int]) -> Segment:
    return Segment(name, tenant_id, key_version, hashlib.sha256(sealed).hexdigest(), len(sealed), rows)


def seal_manifest(manifest: Manifest, keyring: Keyring) -> bytes:
    """The manifest object: a clear header naming the wrapped platform key, and the body sealed under that key."""
    wrapped = keyring.wrap(manifest.platform_key, platform_key_context(manifest.backup_id))
    header = json.dumps(
        {
            "format": FORMAT,
            "backupId": manifest.backup_id,
            "kekId": wrapped.kek_id,
            "wrappedPlatformKey": base64.b64encode(wrapped.ciphertext).decode(),
        },
        separators=(",", ":"),
    ).encode()
    body = {
        "format": FORMAT,
        "backupId": manifest.backup_id,
        "createdAt": manifest.created_at.isoformat(),
        "schemaRevision": manifest.schema_revision,
        "engine": manifest.engine,
        "pledgeVersion": manifest.pledge_version,
        "tenants": list(manifest.tenants),
        "shredded": list(manifest.shredded),
        "segments": [
            {
                "name": s.name,
                "tenantId": s.tenant_id,
                "keyVersion": s.key_version,
                "sha256": s.sha256,
                "size": s.size,
                "rows": s.rows,
            }
            for s in manifest.segments
        ],
    }
    sealed = aead.seal(
        manifest.platform_key,
        json.dumps(body, separators=(",", ":")).encode(),
        AssociatedData(MANIFEST_PURPOSE, manifest.backup_id, header),
    )
    return MAGIC + aead.length_prefix(header) + sealed


def open_manifest(data: bytes, keyring: Keyring, backup_id: str) -> Manifest:
    """The manifest of ``backup_id`` stored as ``data``; :class:`BackupCorrupt` unless it authenticates as that
    backup's. A keyring that cannot unwrap its platform key raises :class:`KeyringError`."""
    corrupt = BackupCorrupt(f"the manifest of backup {backup_id} does not authenticate")
    if len(data) > MAX_MANIFEST_BYTES or not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise corrupt
    length = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    header_end = len(MAGIC) + 4 + length
    header_bytes = data[len(MAGIC) + 4 : header_end]
    try:
        header = json.loads(header_bytes)
        if header["format"] != FORMAT or header["backupId"] != backup_id:
            raise corrupt
        wrapped = WrappedKey(str(header["kekId"]), base64.b64decode(header["wrappedPlatformKey"], validate=True))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise corrupt from None
    try:
        platform_key = keyring.unwrap(wrapped, platform_key_context(backup_id))
    except KeyringError as exc:
        raise KeyringError(f"backup {backup_id}: {exc}") from None
    try:
        body = json.loads(
            aead.open(platform_key, data[header_end:], AssociatedData(MANIFEST_PURPOSE, backup_id, header_bytes))
        )
        return Manifest(
            backup_id=backup_id,
            created_at=datetime.fromisoformat(body["createdAt"]),
            schema_revision=str(body["schemaRevision"]),
            engine=str(body["engine"]),
            pledge_version=str(body["pledgeVersion"]),
            tenants=tuple(body["tenants"]),
            shredded=tuple(body["shredded"]),
            segments=tuple(
                Segment(
                    str(s["name"]),
                    str(s["tenantId"]),
                    int(s["keyVersion"]),
                    str(s["sha256"]),
                    int(s["size"]),
                    {str(k): int(v) for k, v in s["rows"].items()},
                )
                for s in body["segments"]
            ),
            platform_key=platform_key,
        )
    except CiphertextInvalid:
        raise corrupt from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise corrupt from None


def encode_key(row: Row) -> bytes:
    """A ``keys/`` object: one wrapped data key, as the ``data_keys`` row holds it."""
    wrapped = row["wrapped_key"]
    assert isinstance(wrapped, bytes)
    return json.dumps(
        {
            "format": KEY_FORMAT,
            "tenantId": row["tenant_id"],
            "version": row["version"],
            "kekId": row["kek_id"],
            "wrappedKey": base64.b64encode(wrapped).decode(),
            "createdAt": _encode_value(row["created_at"]),
        },
        separators=(",", ":"),
    ).encode()


def decode_key(data: bytes, tenant_id: str, version: int) -> Row:
    """The ``data_keys`` row a ``keys/`` object holds; :class:`BackupCorrupt` unless it is that tenant's version."""
    try:
        document = json.loads(data)
        if document["format"] != KEY_FORMAT or document["tenantId"] != tenant_id or document["version"] != version:
            raise ValueError("another key")
        return {
            "tenant_id": tenant_id,
            "version": version,
            "kek_id": str(document["kekId"]),
            "wrapped_key": base64.b64decode(document["wrappedKey"], validate=True),
            "created_at": _decode_value(document["createdAt"]),
        }
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BackupCorrupt(f"the backup copy of data key {version} of tenant {tenant_id} is not one") from None


def decode_rows(rows: object) -> list[Row]:
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BackupCorrupt("a table of the platform segment is not a list of rows")
    return [{str(column): _decode_value(value) for column, value in row.items()} for row in rows]


def encode_rows(rows: list[Row]) -> list[dict[str, object]]:
    """Rows as JSON values (``$bytes``, ``$datetime``; a naive time stays naive)."""
    return [{column: _encode_value(value) for column, value in row.items()} for row in rows]


def _encode_value(value: object) -> object:
    if isinstance(value, bytes | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    return value


def _tagged(value: object) -> object:
    """orjson's hook for a value JSON has no type for: its tagged object, else :class:`TypeError` (orjson's signal)."""
    tagged = _encode_value(value)
    if tagged is value:
        raise TypeError(f"a backup cannot hold a {type(value).__name__}")
    return tagged


def _decode_value(value: object) -> object:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        try:
            if tag == "$bytes" and isinstance(text, str):
                return base64.b64decode(text, validate=True)
            if tag == "$datetime" and isinstance(text, str):
                return datetime.fromisoformat(text)
        except (binascii.Error, ValueError):
            pass
        raise BackupCorrupt("a value of the platform segment is neither a scalar, $bytes nor $datetime")
    return value
