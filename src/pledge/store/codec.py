"""One record's storage format: every field sealed on its own under the tenant's data key (S2, S4).

``payload = 0x01 | entry*`` with ``entry = name length (1 byte) | name (ASCII) | ciphertext length (4 bytes,
big-endian) | vault ciphertext``. A field's plaintext is its value as canonical JSON (sorted keys, no spaces,
UTF-8); its ciphertext's associated data is (tenant, ``app/collection``, record id, field, key version), so no
field can be moved to another record, field, app or tenant. Blind-index digests are HMACs of the same canonical
JSON. docs/storage-format.md describes the format in full.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pledge.vault import Aad, CiphertextInvalid, Vault

PAYLOAD_FORMAT = 1
_NAME_LENGTH = struct.Struct(">B")
_CIPHERTEXT_LENGTH = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Sealed:
    key_version: int
    payload: bytes
    digests: dict[str, bytes]
    """Blind-index digest per indexed field that has a value."""


def canonical_json(value: Any) -> bytes:
    """The one encoding of a value: what is encrypted and what blind indexes compare. Raises on non-JSON values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def json_value(plaintext: bytes) -> Any:
    return json.loads(plaintext)


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
    """Seal canonical-JSON field values of one record under one data key version."""
    version = vault.key_version(tenant_id) if key_version is None else key_version
    parts = [bytes([PAYLOAD_FORMAT])]
    for name in sorted(encoded):
        ciphertext = vault.encrypt(tenant_id, Aad(scope, record_id, name), encoded[name], key_version=version)
        parts += [_NAME_LENGTH.pack(len(name)), name.encode("ascii"), _CIPHERTEXT_LENGTH.pack(len(ciphertext))]
        parts.append(ciphertext)
    digests = {
        name: vault.blind_index(tenant_id, version, scope, name, encoded[name]) for name in indexed if name in encoded
    }
    return Sealed(version, b"".join(parts), digests)


def open_payload(vault: Vault, tenant_id: str, scope: str, record_id: str, payload: bytes) -> dict[str, bytes]:
    """Decrypt every field of a payload back to its canonical JSON."""
    return {
        name: vault.decrypt(tenant_id, Aad(scope, record_id, name), ciphertext)
        for name, ciphertext in _entries(payload)
    }


def _entries(payload: bytes) -> Iterable[tuple[str, bytes]]:
    if not payload or payload[0] != PAYLOAD_FORMAT:
        raise CiphertextInvalid(f"unknown record payload format {payload[:1].hex() or 'empty'}")
    offset = 1
    try:
        while offset < len(payload):
            (name_length,) = _NAME_LENGTH.unpack_from(payload, offset)
            offset += _NAME_LENGTH.size
            name = payload[offset : offset + name_length].decode("ascii")
            offset += name_length
            (length,) = _CIPHERTEXT_LENGTH.unpack_from(payload, offset)
            offset += _CIPHERTEXT_LENGTH.size
            if offset + length > len(payload):
                raise CiphertextInvalid("record payload is truncated")
            yield name, payload[offset : offset + length]
            offset += length
    except (struct.error, UnicodeDecodeError):
        raise CiphertextInvalid("record payload is truncated or corrupt") from None
