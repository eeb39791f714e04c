"""Envelope encryption: one AES-256-GCM data key per tenant, wrapped by the KEK, bound to where a value lives (S4, S7).

Every ciphertext's associated data names tenant, collection, record, field and key version, so a ciphertext copied
to another tenant, row or field does not decrypt. Deleting a tenant's wrapped keys (``shred``) makes every copy of
its data unreadable, the KEK holder's included, and leaves a marker so that the tenant never gets a fresh key.

Ciphertext layout: the vault's AEAD recipe (:mod:`pledge.vault.aead`) with the data key version after the version
byte, ``0x01 | key version (4 bytes, big-endian) | nonce (12) | AES-GCM ciphertext+tag``, the key version also in
the associated data. The steps are inlined here, with keys and associated data prefixes cached: this is the store's
hot path. docs/crypto.md describes every format of the vault.

Blind indexes (equality lookups without clear text) are HMAC-SHA256 under a key derived from the data key by HKDF.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy import Row as SqlRow

from pledge.cache import ExpiringCache
from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError
from pledge.tenantdata import Row, TableRows
from pledge.vault.aead import NONCE_BYTES, TAG_BYTES, VERSION, CiphertextInvalid, length_prefix, length_prefixed
from pledge.vault.keyring import Keyring, KeyringError, WrappedKey

_HEADER = struct.Struct(">BI")
RECORD_PURPOSE = "pledge/aad/1"
"""The purpose in the associated data of record payloads and sealed tenant secrets."""
_BODY_START = _HEADER.size + NONCE_BYTES
_MIN_LENGTH = _BODY_START + TAG_BYTES

DEFAULT_CACHE_SIZE = 20_000
"""Unwrapped keys kept in memory (``PLEDGE_KEY_CACHE_SIZE``): enough for every active tenant of a busy instance,
bounded for the rest."""
TENANTS_PER_KEY_READ: Final = 500
"""Tenants whose data keys :meth:`Vault.unseal_many` reads in one query (far below SQLite's bound parameters)."""
CACHE_TTL_SECONDS = 30.0
"""How long an instance trusts what it remembers of a tenant's keys (unwrapped keys, current version) before it
reads ``data_keys`` again: a rotation, or a shred, on another instance takes effect here within this time."""

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

# Built once: a tenant-cache miss reads one data key, and building the statement cost more than running it.
_DATA_KEY: Final = select(data_keys_table.c.kek_id, data_keys_table.c.wrapped_key).where(
    data_keys_table.c.tenant_id == bindparam("tenant_id"), data_keys_table.c.version == bindparam("version")
)

_DATA_KEYS_OF: Final = select(
    data_keys_table.c.tenant_id, data_keys_table.c.version, data_keys_table.c.kek_id, data_keys_table.c.wrapped_key
).where(data_keys_table.c.tenant_id.in_(bindparam("tenant_ids", expanding=True)))

shredded_tenants_table = Table(
    "shredded_tenants",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("shredded_at", UtcDateTime, nullable=False),
)


class KeyShredded(PledgeError):
    """The tenant's data keys were destroyed: its data is unrecoverable by design, and nothing new is written."""


class Aad(NamedTuple):
    """Where a value lives; bound into its ciphertext. (A named tuple: made on every store call, and building one
    costs less than half of what a frozen dataclass does.)"""

    collection: str
    record_id: str
    field: str

    def encode(self, tenant_id: str, key_version: int) -> bytes:
        # Only the record id differs from one record of a collection to the next: the rest comes from caches.
        return (
            _aad_prefix(tenant_id, self.collection)
            + length_prefix(self.record_id.encode())
            + _aad_suffix(self.field, key_version)
        )


@dataclass(frozen=True, slots=True)
class _DataKey:
    cipher: AESGCM
    index_mac: HMAC
    """HMAC-SHA256 keyed with the blind-index key, never updated: each digest starts from a copy. Copying the keyed
    state costs 0.7 µs, keying a new HMAC 1.7 µs (timeit, 2026-11)."""
    scoped_macs: dict[bytes, HMAC] = field(default_factory=dict)
    """``index_mac`` already fed each scope (tenant, collection, field) seen: a digest is then one copy, one update
    and a finalize, 0.7 instead of 1.0 µs. A manifest declares few indexed fields, so this stays small."""

    def encrypt(self, version: int, aad: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return _HEADER.pack(VERSION, version) + nonce + self.cipher.encrypt(nonce, plaintext, aad)

    def blind_index(self, scope: bytes, value: bytes) -> bytes:
        scoped = self.scoped_macs.get(scope)
        if scoped is None:
            scoped = self.scoped_macs[scope] = self.index_mac.copy()
            scoped.update(scope)
        mac = scoped.copy()
        mac.update(value)
        return mac.finalize()


class _KeyCache:
    """Unwrapped keys, each for ``CACHE_TTL_SECONDS``; unwrapping costs a database read and a keyring (maybe a KMS)
    round trip, and a key shredded elsewhere must not outlive the shred here for long. ``size`` keys at most (set it
    to at least the number of active tenants), least recently used first out; an expired key leaves memory when read
    or at the next sweep.

    Reads take no lock (:class:`~pledge.cache.ExpiringCache`): a lock cost 0.5 µs on every store call (timeit).
    """

    def __init__(self, size: int, monotonic: Callable[[], float]) -> None:
        self._entries: ExpiringCache[tuple[str, int], _DataKey] = ExpiringCache(
            size, CACHE_TTL_SECONDS, monotonic=monotonic
        )

    def get(self, tenant_id: str, version: int) -> _DataKey | None:
        return self._entries.get((tenant_id, version))

    def put(self, tenant_id: str, version: int, key: _DataKey) -> None:
        self._entries.put((tenant_id, version), key)

    def forget(self, tenant_id: str) -> None:
        self._entries.pop_where(lambda cached: cached[0] == tenant_id)

    def sweep(self) -> None:
        self._entries.sweep()

    def __len__(self) -> int:
        return len(self._entries)


class Vault:
    """Per-tenant data keys and the AEAD recipes built on them; also the tenant registry's secret sealer."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        clock: Clock,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._keys = _KeyCache(cache_size, monotonic)
        # Each tenant's current key version, trusted for CACHE_TTL_SECONDS: bounded as the keys are.
        self._current: ExpiringCache[str, int] = ExpiringCache(cache_size, CACHE_TTL_SECONDS, monotonic=monotonic)
        self._lock = threading.Lock()

    def sweep(self) -> None:
        """Drop every expired cached key now, whether or not anything asks for it again."""
        self._keys.sweep()
        self._current.sweep()

    def cached_keys(self) -> int:
        """How many unwrapped data keys are in memory."""
        return len(self._keys)

    def encrypt(self, tenant_id: str, aad: Aad, plaintext: bytes, *, key_version: int | None = None) -> bytes:
        """Encrypt under the tenant's current data key, or under ``key_version`` when several values must agree."""
        version = self.key_version(tenant_id) if key_version is None else key_version
        return self._key(tenant_id, version).encrypt(version, aad.encode(tenant_id, version), plaintext)

    def encrypt_indexed(
        self,
        tenant_id: str,
        aad: Aad,
        plaintext: bytes,
        indexed: Iterable[tuple[str, bytes] | None],
        *,
        key_version: int,
    ) -> tuple[bytes, tuple[bytes | None, ...]]:
        """:meth:`encrypt` and the :meth:`blind_index` of each (field, value) of ``indexed`` in ``aad.collection``,
        under one key version (``None`` gives ``None``): what a record's row holds, the key looked up once."""
        key = self._key(tenant_id, key_version)
        digests = tuple(
            None if entry is None else key.blind_index(_index_scope(tenant_id, aad.collection, entry[0]), entry[1])
            for entry in indexed
        )
        return key.encrypt(key_version, aad.encode(tenant_id, key_version), plaintext), digests

    def decrypt(self, tenant_id: str, aad: Aad, ciphertext: bytes) -> bytes:
        return self.decrypt_records(tenant_id, aad.collection, aad.field, [(aad.record_id, ciphertext)])[0]

    def decrypt_records(
        self, tenant_id: str, collection: str, field: str, sealed: Iterable[tuple[str, bytes]]
    ) -> list[bytes]:
        """Decrypt the ciphertexts of several records, given as (record id, ciphertext), each under its own AAD.

        What :meth:`decrypt` checks, checked for every record; a page of records looks its keys up once.
        """
        prefix = _aad_prefix(tenant_id, collection)
        # By header (format and key version): a header seen before needs no parsing, only the length check.
        keys: dict[bytes, tuple[AESGCM, bytes]] = {}
        opened = []
        for record_id, ciphertext in sealed:
            key = keys.get(ciphertext[: _HEADER.size])
            if key is None:
                version = ciphertext_key_version(ciphertext)
                key = keys[ciphertext[: _HEADER.size]] = (
                    self._key(tenant_id, version).cipher,
                    _aad_suffix(field, version),
                )
            elif len(ciphertext) < _MIN_LENGTH:
                raise CiphertextInvalid("ciphertext is truncated")
            cipher, suffix = key
            aad = prefix + length_prefix(record_id.encode()) + suffix
            try:
                opened.append(
                    cipher.decrypt(ciphertext[_BODY_START - NONCE_BYTES : _BODY_START], ciphertext[_BODY_START:], aad)
                )
            except InvalidTag:
                raise CiphertextInvalid(
                    f"ciphertext does not belong to tenant {tenant_id} at {collection}/{field}"
                ) from None
        return opened

    def blind_index(self, tenant_id: str, key_version: int, collection: str, field: str, value: bytes) -> bytes:
        """A keyed digest of ``value`` for equality lookups: equal values give equal digests, nothing else leaks.

        The key is derived (HKDF-SHA256) from the tenant's data key of ``key_version``, so shredding the data key
        destroys the index key too, and a digest of one tenant, collection or field never matches another's.
        """
        return self._key(tenant_id, key_version).blind_index(_index_scope(tenant_id, collection, field), value)

    def seal(self, tenant_id: str, name: str, plaintext: bytes) -> bytes:
        return self.encrypt(tenant_id, _secret_aad(tenant_id, name), plaintext)

    def unseal(self, tenant_id: str, name: str, sealed: bytes) -> bytes:
        return self.decrypt(tenant_id, _secret_aad(tenant_id, name), sealed)

    def unseal_many(self, name: str, sealed: Mapping[str, bytes]) -> dict[str, bytes]:
        """:meth:`unseal` of the secret ``name`` of many tenants, given and returned by tenant id: their data keys
        read ``TENANTS_PER_KEY_READ`` tenants a query, each used once and not cached (a store call derives what it
        needs as usual). A tenant whose secret does not open — keys shredded, ciphertext or wrap altered — is left
        out: :meth:`unseal` says why when it is asked for that tenant."""
        versions: dict[str, int] = {}
        for tenant_id, ciphertext in sealed.items():
            with suppress(CiphertextInvalid):
                versions[tenant_id] = ciphertext_key_version(ciphertext)
        tenant_ids = list(versions)
        opened: dict[str, bytes] = {}
        with self._engine.connect() as connection:
            for start in range(0, len(tenant_ids), TENANTS_PER_KEY_READ):
                chunk = tenant_ids[start : start + TENANTS_PER_KEY_READ]
                for key in connection.execute(_DATA_KEYS_OF, {"tenant_ids": chunk}):
                    # Only the key each secret was sealed with, not the tenant's older or newer ones.
                    if key.version == versions[key.tenant_id]:
                        with suppress(CiphertextInvalid, KeyringError):
                            opened[key.tenant_id] = self._open_secret(key, name, sealed[key.tenant_id])
        return opened

    def key_version(self, tenant_id: str) -> int:
        """The version new ciphertexts of this tenant are written with; creates the first key when there is none.

        Versions run from 1 without gaps. Another instance's rotation is seen here within
        ``CACHE_TTL_SECONDS``; what it writes meanwhile stays readable under the older version.
        """
        cached = self._current.get(tenant_id)
        if cached is not None:
            return cached
        with self._lock:
            version = self._latest_version(tenant_id)
            if version is None:
                version = self._insert_key(tenant_id, first=True)
            self._remember(tenant_id, version)
        return version

    def existing_key_version(self, tenant_id: str) -> int | None:
        """:meth:`key_version` for readers: ``None`` when the tenant has no key yet, which is never created here (a
        read must not make keys). ``KeyShredded`` when its keys were destroyed, as any read of its data is."""
        cached = self._current.get(tenant_id)
        if cached is not None:
            return cached
        version = self._latest_version(tenant_id)
        if version is None:
            if self.is_shredded(tenant_id):
                raise KeyShredded(f"tenant {tenant_id} was crypto-shredded: its data can never be read again")
            return None
        self._remember(tenant_id, version)
        return version

    def rotate_data_key(self, tenant_id: str) -> int:
        """Start a new data key version; older versions still decrypt what they wrote."""
        with self._lock:
            version = self._insert_key(tenant_id, first=False)
            self._remember(tenant_id, version)
        return version

    def rotate_kek(self) -> int:
        """Make a new KEK current and re-wrap every data key under it, without touching any data."""
        self._keyring.rotate()
        with self._engine.begin() as connection:
            rows = connection.execute(select(data_keys_table)).mappings().all()
            for row in rows:
                context = data_key_context(row["tenant_id"], row["version"])
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
        """Destroy every data key of the tenant and refuse it keys forever: none of its ciphertexts decrypt again."""
        with self._lock, self._engine.begin() as connection:
            _lock_tenant(connection, tenant_id)
            # Marker and deletion commit together: no moment where the keys are gone but a new one may be made.
            if not _is_shredded(connection, tenant_id):
                connection.execute(
                    insert(shredded_tenants_table).values(tenant_id=tenant_id, shredded_at=self._clock.now())
                )
            result = connection.execute(delete(data_keys_table).where(data_keys_table.c.tenant_id == tenant_id))
            self._keys.forget(tenant_id)
            self._current.pop(tenant_id)
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
                        WrappedKey(row["kek_id"], row["wrapped_key"]), data_key_context(tenant_id, row["version"])
                    ),
                )
                for row in rows
            ]

    def import_data_keys(self, tenant_id: str, keys: list[tuple[int, bytes]]) -> None:
        """Adopt data keys exported by another deployment, wrapped under this deployment's KEK."""
        now = self._clock.now()
        with self._lock, self._engine.begin() as connection:
            _lock_tenant(connection, tenant_id)
            if _is_shredded(connection, tenant_id):
                raise KeyShredded(f"tenant {tenant_id} was crypto-shredded here: its keys cannot come back")
            for version, data_key in keys:
                wrapped = self._keyring.wrap(data_key, data_key_context(tenant_id, version))
                connection.execute(
                    data_keys_table.insert().values(
                        tenant_id=tenant_id,
                        version=version,
                        kek_id=wrapped.kek_id,
                        wrapped_key=wrapped.ciphertext,
                        created_at=now,
                    )
                )
            self._current.pop(tenant_id)

    @property
    def keyring(self) -> Keyring:
        """The KEK keyring that wraps this vault's data keys (backups wrap their own keys with it too)."""
        return self._keyring

    def is_shredded(self, tenant_id: str) -> bool:
        with self._engine.connect() as connection:
            return _is_shredded(connection, tenant_id)

    def tenant_keys(self) -> WrappedDataKeys:
        """The tenant's wrapped data keys as a part of its tenant data (see :mod:`pledge.tenantdata`)."""
        return WrappedDataKeys(self)

    def _forget(self, tenant_id: str) -> None:
        self._keys.forget(tenant_id)
        self._current.pop(tenant_id)

    def has_keys(self, tenant_id: str) -> bool:
        return self._latest_version(tenant_id) is not None

    def _remember(self, tenant_id: str, version: int) -> None:
        self._current.put(tenant_id, version)

    def _key(self, tenant_id: str, version: int) -> _DataKey:
        key = self._keys.get(tenant_id, version)
        if key is not None:
            return key
        with self._engine.connect() as connection:
            row = connection.execute(_DATA_KEY, {"tenant_id": tenant_id, "version": version}).one_or_none()
            if row is None and _is_shredded(connection, tenant_id):
                raise KeyShredded(f"tenant {tenant_id} was crypto-shredded: its data can never be read again")
        if row is None:
            raise CiphertextInvalid(f"tenant {tenant_id} has no data key version {version}: the ciphertext is foreign")
        data_key = self._keyring.unwrap(WrappedKey(row.kek_id, row.wrapped_key), data_key_context(tenant_id, version))
        key = _DataKey(AESGCM(data_key), HMAC(_index_key(data_key, tenant_id, version), SHA256()))
        self._keys.put(tenant_id, version, key)
        return key

    def _open_secret(self, key: SqlRow[str, int, str, bytes], name: str, ciphertext: bytes) -> bytes:
        """Open a tenant's sealed secret with the data key it was sealed with (``key``, a row of
        ``_DATA_KEYS_OF``), unwrapped here and used once."""
        tenant_id, version = key.tenant_id, key.version
        data_key = self._keyring.unwrap(WrappedKey(key.kek_id, key.wrapped_key), data_key_context(tenant_id, version))
        aad = _secret_aad(tenant_id, name).encode(tenant_id, version)
        try:
            return AESGCM(data_key).decrypt(ciphertext[_HEADER.size : _BODY_START], ciphertext[_BODY_START:], aad)
        except InvalidTag:
            raise CiphertextInvalid(f"the secret {name} does not belong to tenant {tenant_id}") from None

    def _latest_version(self, tenant_id: str) -> int | None:
        with self._engine.connect() as connection:
            latest: int | None = connection.execute(
                select(func.max(data_keys_table.c.version)).where(data_keys_table.c.tenant_id == tenant_id)
            ).scalar_one()
        return latest

    def _insert_key(self, tenant_id: str, *, first: bool) -> int:
        data_key = AESGCM.generate_key(bit_length=256)
        with self._engine.begin() as connection:
            _lock_tenant(connection, tenant_id)
            latest = connection.execute(
                select(func.max(data_keys_table.c.version)).where(data_keys_table.c.tenant_id == tenant_id)
            ).scalar_one()
            if first and latest is not None:
                return int(latest)  # another instance created it first: theirs is the key
            version = (latest or 0) + 1
            wrapped = self._keyring.wrap(data_key, data_key_context(tenant_id, version))
            connection.execute(
                insert(data_keys_table).values(
                    tenant_id=tenant_id,
                    version=version,
                    kek_id=wrapped.kek_id,
                    wrapped_key=wrapped.ciphertext,
                    created_at=self._clock.now(),
                )
            )
            # Checked after the insert, inside its transaction: a shred can then no longer slip in between.
            if _is_shredded(connection, tenant_id):
                raise KeyShredded(f"tenant {tenant_id} was crypto-shredded: it gets no new data key")
        return version


@dataclass(frozen=True, slots=True)
class WrappedDataKeys:
    """A tenant's ``data_keys`` rows as stored, wrapped by this deployment's KEK: part of its tenant data.

    Deleting them releases the keys (a shred would also forbid new ones: :meth:`Vault.shred`); keys never come back
    for a tenant shredded here. Either way this instance forgets what it remembered of the tenant's keys.
    """

    vault: Vault
    name = "data_keys"

    def export_rows(self, connection: Connection, tenant_id: str) -> list[Row]:
        return _KEY_ROWS.export_rows(connection, tenant_id)

    def export_rows_of(self, connection: Connection, tenant_ids: Sequence[str]) -> dict[str, list[Row]]:
        return _KEY_ROWS.export_rows_of(connection, tenant_ids)

    def import_rows(self, connection: Connection, tenant_id: str, rows: Sequence[Row]) -> None:
        _lock_tenant(connection, tenant_id)
        if _is_shredded(connection, tenant_id):
            raise KeyShredded(f"tenant {tenant_id} was crypto-shredded here: its keys cannot come back")
        _KEY_ROWS.import_rows(connection, tenant_id, rows)
        self.vault._forget(tenant_id)

    def delete_rows(self, connection: Connection, tenant_id: str) -> int:
        _lock_tenant(connection, tenant_id)
        deleted = _KEY_ROWS.delete_rows(connection, tenant_id)
        self.vault._forget(tenant_id)
        return deleted


_KEY_ROWS: Final = TableRows(data_keys_table)


def ciphertext_key_version(ciphertext: bytes) -> int:
    """The data key version a ciphertext was written with (read from its header, without decrypting)."""
    if len(ciphertext) < _MIN_LENGTH:
        raise CiphertextInvalid("ciphertext is truncated")
    fmt, version = _HEADER.unpack_from(ciphertext)
    if fmt != VERSION:
        raise CiphertextInvalid(f"unknown ciphertext format {fmt}")
    return int(version)


def _secret_aad(tenant_id: str, name: str) -> Aad:
    """Where a tenant's sealed secret lives: a record of the reserved ``_tenant`` collection."""
    return Aad("_tenant", tenant_id, name)


def _lock_tenant(connection: Connection, tenant_id: str) -> None:
    """Serialise key creation and shredding of one tenant across instances.

    PostgreSQL needs a lock (READ COMMITTED would let a shred and a new key pass each other); SQLite already runs
    one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"pledge.vault|" + tenant_id.encode()).digest()[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _is_shredded(connection: Connection, tenant_id: str) -> bool:
    marker = connection.execute(
        select(shredded_tenants_table.c.tenant_id).where(shredded_tenants_table.c.tenant_id == tenant_id)
    ).first()
    return marker is not None


@functools.lru_cache(maxsize=4096)
def _aad_prefix(tenant_id: str, collection: str) -> bytes:
    return length_prefixed(RECORD_PURPOSE, tenant_id, collection)


@functools.lru_cache(maxsize=256)
def _aad_suffix(field: str, key_version: int) -> bytes:
    return length_prefixed(field, str(key_version))


@functools.lru_cache(maxsize=4096)
def _index_scope(tenant_id: str, collection: str, field: str) -> bytes:
    return length_prefixed("pledge/blind-index/1", tenant_id, collection, field)


def _index_key(data_key: bytes, tenant_id: str, version: int) -> bytes:
    info = f"pledge/blind-index-key/1|{tenant_id}|{version}".encode()
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(data_key)


def data_key_context(tenant_id: str, version: int) -> bytes:
    """What a data key's wrap is bound to (crypto.md): the same context unwraps it, here or from a backup's copy."""
    return f"pledge/data-key/1|{tenant_id}|{version}".encode()
