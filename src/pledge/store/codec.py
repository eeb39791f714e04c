"""One record's storage format: its fields sealed together under the tenant's data key (S2, S4).

A record's plaintext is a JSON object of its fields, each value in canonical JSON (sorted keys, no spaces, UTF-8);
the payload is that plaintext sealed by the vault as one AES-256-GCM ciphertext whose associated data is (tenant,
``app/collection``, record id, ``*``, key version). The field names are inside the authenticated plaintext, so a
value cannot move to another field, and the associated data keeps a payload from moving to another record,
collection, app or tenant. Blind-index digests are HMACs of a field's canonical JSON. docs/storage-format.md
describes the format in full.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pledge.vault import Aad, CiphertextInvalid, Vault

ALL_FIELDS = "*"
"""The field slot of a record payload's associated data: the payload holds every field of the record."""


@dataclass(frozen=True, slots=True)
class Sealed:
    key_version: int
    payload: bytes
    digests: dict[str, bytes]
    """Blind-index digest per indexed field that has a value."""
    plaintext: bytes
    """The record as a JSON object, as sealed."""


def canonical_json(value: Any) -> bytes:
    """The one encoding of a value: what is encrypted and what blind indexes compare. Raises on non-JSON values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def encode_fields(values: Mapping[str, Any]) -> dict[str, bytes]:
    return {name: canonical_json(value) for name, value in values.items()}


def seal(
    vault: Vault,
    tenant_id: str,
    scope: str,
    record_id: str,
    encoded: Mapping[str, bytes],
    indexed: Iterable[str],
    *,
    key_version: int | None = None,
) -> Sealed:
    """Seal a record's fields (canonical JSON each) and compute the digests of its indexed ones, under one key."""
    version = vault.key_version(tenant_id) if key_version is None else key_version
    # Field names are manifest names (lower_snake_case ASCII): quoting them is their canonical JSON.
    plaintext = b"{" + b",".join(b'"' + name.encode() + b'":' + encoded[name] for name in sorted(encoded)) + b"}"
    payload = vault.encrypt(tenant_id, Aad(scope, record_id, ALL_FIELDS), plaintext, key_version=version)
    digests = {
        name: vault.blind_index(tenant_id, version, scope, name, encoded[name]) for name in indexed if name in encoded
    }
    return Sealed(version, payload, digests, plaintext)


def open_payload(vault: Vault, tenant_id: str, scope: str, record_id: str, payload: bytes) -> dict[str, Any]:
    """Decrypt a payload back to the record's field values."""
    values = json.loads(vault.decrypt(tenant_id, Aad(scope, record_id, ALL_FIELDS), payload).decode())
    if not isinstance(values, dict):
        raise CiphertextInvalid(f"record {record_id} does not hold a JSON object")
    return values
