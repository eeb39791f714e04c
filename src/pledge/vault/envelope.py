"""Envelope encryption: one AES-256-GCM data key per tenant, wrapped by the KEK, bound to where a value lives.

Every ciphertext's associated data names tenant, collection, record, field and key version, so a ciphertext copied
to another tenant, row or field does not decrypt. Deleting a tenant's wrapped keys (``shred``) makes every copy of
its data unreadable, the KEK holder's included.

Ciphertext layout (version 1): ``0x01 | key version (4 bytes, big-endian) | nonce (12) | AES-GCM ciphertext+tag``.
"""

from __future__ import annotations

import contextlib
import secrets
import struct
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Engine, Integer, LargeBinary, PrimaryKeyConstraint, String, Table, delete, func, select
from sqlalchemy.exc import IntegrityError

from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError
from pledge.vault.keyring import Keyring, WrappedKey

_FORMAT = 1
_HEADER = struct.Struct(">BI")
_NONCE_BYTES = 12

data_keys_table = Table(
    "data_keys",
    metadata,
    Column("tenant_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kek_id", String(64), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "version"),
)


class CiphertextInvalid(PledgeError):
    """The ciphertext was altered, truncated, or belongs to another tenant, record or field."""


class KeyShredded(PledgeError):
    """The tenant's data keys were destroyed: its data is unrecoverable by design."""


@dataclass(frozen=True, slots=True)
class Aad:
    """Where a value lives; bound into its ciphertext."""

    collection: str
    record_id: str
    field: str

    def encode(self, tenant_id: str, key_version: int) -> bytes:
        parts = ("pledge/aad/1", tenant_id, self.collection, self.record_id, self.field, str(key_version))
        # Length-prefixed so that no two different locations encode to the same bytes.
        return b"".join(struct.pack(">I", len(p.encode())) + p.encode() for p in parts)


class Vault:
    """Per-tenant data keys and the AEAD recipes built on them; also the tenant registry's secret sealer."""

    def __init__(self, engine: Engine, keyring: Keyring, clock: Clock) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._cache: dict[tuple[str, int], AESGCM] = {}
        self._current: dict[str, int] = {}
        self._lock = threading.Lock()

    def encrypt(self, tenant_id: str, aad: Aad, plaintext: bytes) -> bytes:
        version = self._current_version(tenant_id)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._cipher(tenant_id, version).encrypt(nonce, plaintext, aad.encode(tenant_id, version))
        return _HEADER.pack(_FORMAT, version) + nonce + sealed

    def decrypt(self, tenant_id: str, aad: Aad, ciphertext: bytes) -> bytes:
        if len(ciphertext) < _HEADER.size + _NONCE_BYTES + 16:
            raise CiphertextInvalid("ciphertext is truncated")
        fmt, version = _HEADER.unpack_from(ciphertext)
        if fmt != _FORMAT:
            raise CiphertextInvalid(f"unknown ciphertext format {fmt}")
        nonce = ciphertext[_HEADER.size : _HEADER.size + _NONCE_BYTES]
        body = ciphertext[_HEADER.size + _NONCE_BYTES :]
        try:
            return self._cipher(tenant_id, version).decrypt(nonce, body, aad.encode(tenant_id, version))
        except InvalidTag:
            raise CiphertextInvalid(
                f"ciphertext does not belong to tenant {tenant_id} at {aad.collection}/{aad.field}"
            ) from None

    def seal(self, tenant_id: str, name: str, plaintext: bytes) -> bytes:
        return self.encrypt(tenant_id, Aad("_tenant", tenant_id, name), plaintext)

    def unseal(self, tenant_id: str, name: str, sealed: bytes) -> bytes:
        return self.decrypt(tenant_id, Aad("_tenant", tenant_id, name), sealed)

    def key_version(self, tenant_id: str) -> int:
        """The version new ciphertexts of this tenant are written with."""
        return self._current_version(tenant_id)

    def rotate_data_key(self, tenant_id: str) -> int:
        """Start a new data key version; older versions still decrypt what they wrote."""
        with self._lock:
            version = (self._latest_version(tenant_id) or 0) + 1
            self._insert_key(tenant_id, version)
            self._current[tenant_id] = version
        return version

    def rotate_kek(self) -> int:
        """Make a new KEK current and re-wrap every data key under it, without touching any data."""
        self._keyring.rotate()
        with self._engine.begin() as connection:
            rows = connection.execute(select(data_keys_table)).mappings().all()
            for row in rows:
                context = _wrap_context(row["tenant_id"], row["version"])
                data_key = self._keyring.unwrap(WrappedKey(row["kek_id"], row["wrapped_key"]), context)
                wrapped = self._keyring.wrap(data_key, context)
                connection.execute(
                    data_keys_table.update()
                    .where(data_keys_table.c.tenant_id == row["tenant_id"])
                    .where(data_keys_table.c.version == row["version"])
                    .values(kek_id=wrapped.kek_id, wrapped_key=wrapped.ciphertext)
                )
        return len(rows)

    def shred(self, tenant_id: str) -> int:
        """Destroy every data key of the tenant: from now on none of its ciphertexts can be decrypted."""
        with self._lock, self._engine.begin() as connection:
            result = connection.execute(delete(data_keys_table).where(data_keys_table.c.tenant_id == tenant_id))
            for cached in [k for k in self._cache if k[0] == tenant_id]:
                del self._cache[cached]
            self._current.pop(tenant_id, None)
        return result.rowcount

    def export_data_keys(self, tenant_id: str) -> list[tuple[int, bytes]]:
        """The tenant's data keys in the clear, by version: only for moving a tenant to another deployment's KEK."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(data_keys_table).where(data_keys_table.c.tenant_id == tenant_id).order_by("version")
            ).mappings()
            return [
                (
                    row["version"],
                    self._keyring.unwrap(
                        WrappedKey(row["kek_id"], row["wrapped_key"]), _wrap_context(tenant_id, row["version"])
                    ),
                )
                for row in rows
            ]

    def import_data_keys(self, tenant_id: str, keys: list[tuple[int, bytes]]) -> None:
        """Adopt data keys exported by another deployment, wrapped under this deployment's KEK."""
        now = self._clock.now()
        with self._lock, self._engine.begin() as connection:
            for version, data_key in keys:
                wrapped = self._keyring.wrap(data_key, _wrap_context(tenant_id, version))
                connection.execute(
                    data_keys_table.insert().values(
                        tenant_id=tenant_id,
                        version=version,
                        kek_id=wrapped.kek_id,
                        wrapped_key=wrapped.ciphertext,
                        created_at=now,
                    )
                )
            self._current.pop(tenant_id, None)

    def has_keys(self, tenant_id: str) -> bool:
        return self._latest_version(tenant_id) is not None

    def _current_version(self, tenant_id: str) -> int:
        version = self._current.get(tenant_id)
        if version is not None:
            return version
        with self._lock:
            version = self._latest_version(tenant_id)
            if version is None:
                version = self._create_first_key(tenant_id)
            self._current[tenant_id] = version
        return version

    def _cipher(self, tenant_id: str, version: int) -> AESGCM:
        cipher = self._cache.get((tenant_id, version))
        if cipher is not None:
            return cipher
        with self._engine.connect() as connection:
            row = connection.execute(
                select(data_keys_table.c.kek_id, data_keys_table.c.wrapped_key)
                .where(data_keys_table.c.tenant_id == tenant_id)
                .where(data_keys_table.c.version == version)
            ).one_or_none()
        if row is None:
            raise KeyShredded(f"tenant {tenant_id} has no data key version {version}: it was shredded")
        data_key = self._keyring.unwrap(WrappedKey(row.kek_id, row.wrapped_key), _wrap_context(tenant_id, version))
        cipher = AESGCM(data_key)
        self._cache[(tenant_id, version)] = cipher
        return cipher

    def _latest_version(self, tenant_id: str) -> int | None:
        with self._engine.connect() as connection:
            latest: int | None = connection.execute(
                select(func.max(data_keys_table.c.version)).where(data_keys_table.c.tenant_id == tenant_id)
            ).scalar_one()
        return latest

    def _create_first_key(self, tenant_id: str) -> int:
        # Another instance may have created it first: then theirs is the key.
        with contextlib.suppress(IntegrityError):
            self._insert_key(tenant_id, 1)
        version = self._latest_version(tenant_id)
        assert version is not None
        return version

    def _insert_key(self, tenant_id: str, version: int) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = self._keyring.wrap(data_key, _wrap_context(tenant_id, version))
        with self._engine.begin() as connection:
            connection.execute(
                data_keys_table.insert().values(
                    tenant_id=tenant_id,
                    version=version,
                    kek_id=wrapped.kek_id,
                    wrapped_key=wrapped.ciphertext,
                    created_at=self._clock.now(),
                )
            )


def _wrap_context(tenant_id: str, version: int) -> bytes:
    return f"pledge/data-key/1|{tenant_id}|{version}".encode()
