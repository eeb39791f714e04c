"""The key-encryption key (KEK): wraps tenants' data keys and never touches data itself.

``Keyring`` is the small interface a KMS implements (AWS KMS ``Encrypt``/``Decrypt`` with an encryption context,
HashiCorp Vault transit ``encrypt``/``decrypt`` with ``context``); ``LocalKeyring`` keeps the KEKs in a 0600 file and
wraps with the vault's AEAD recipe (docs/crypto.md).
"""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import pledge.vault.aead as aead
from pledge.errors import PledgeError

_FORMAT = "pledge-keyring/1"
WRAP_PURPOSE = "pledge/kek-wrap/1"
_DATA_KEY_BYTES = 32
_LEGACY_WRAP_LENGTH = aead.NONCE_BYTES + _DATA_KEY_BYTES + aead.TAG_BYTES
"""Wraps written before the AEAD recipe: nonce | ciphertext | tag, the context alone as associated data, no version
byte (one byte shorter than a wrap of the recipe). Read until ``pledge keys rotate-kek`` has re-wrapped them."""


class KeyringError(PledgeError):
    """The keyring cannot be used safely: missing, unreadable, too permissive, or it cannot unwrap a key."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted by the KEK named ``kek_id``."""

    kek_id: str
    ciphertext: bytes


class Keyring(Protocol):
    @property
    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        """Encrypt a data key under the current KEK; ``context`` must be presented again to unwrap it."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes: ...

    def rotate(self) -> str:
        """Make a new KEK current and return its id; older KEKs stay available to unwrap."""
        ...


class LocalKeyring:
    """KEKs in a JSON file created with mode 0600; refuses to start when others can read it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        if not path.exists():
            _create(path)
        self._check_permissions()
        self._current, self._keys = _load(path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def current_kek_id(self) -> str:
        return self._current

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        if len(data_key) != _DATA_KEY_BYTES:
            raise KeyringError(f"a data key is {_DATA_KEY_BYTES} bytes, not {len(data_key)}: refusing to wrap it")
        sealed = aead.seal(self._keys[self._current], data_key, _wrap_aad(self._current, context))
        return WrappedKey(self._current, sealed)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        kek = self._keys.get(wrapped.kek_id)
        if kek is None:
            raise KeyringError(f"keyring {self._path} has no key {wrapped.kek_id!r}: was it replaced by another file?")
        try:
            if len(wrapped.ciphertext) == _LEGACY_WRAP_LENGTH:
                return _unwrap_legacy(kek, wrapped.ciphertext, context)
            return aead.open(kek, wrapped.ciphertext, _wrap_aad(wrapped.kek_id, context))
        except aead.CiphertextInvalid:
            raise KeyringError(f"key {wrapped.kek_id!r} cannot unwrap this data key: it was tampered with") from None

    def rotate(self) -> str:
        kek_id = f"kek-{len(self._keys) + 1}"
        self._keys[kek_id] = AESGCM.generate_key(bit_length=256)
        self._current = kek_id
        _save(self._path, self._current, self._keys)
        return kek_id

    def _check_permissions(self) -> None:
        mode = stat.S_IMODE(self._path.stat().st_mode)
        if mode & 0o077:
            raise KeyringError(
                f"keyring {self._path} has mode {mode:04o}, readable by others: run `chmod 600 {self._path}`"
            )


def _wrap_aad(kek_id: str, context: bytes) -> aead.AssociatedData:
    return aead.AssociatedData(WRAP_PURPOSE, kek_id, context)


def _unwrap_legacy(kek: bytes, wrapped: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[: aead.NONCE_BYTES], wrapped[aead.NONCE_BYTES :], context)
    except InvalidTag:
        raise aead.CiphertextInvalid("legacy wrap was altered") from None


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, "kek-1", {"kek-1": AESGCM.generate_key(bit_length=256)}, exclusive=True)


def _save(path: Path, current: str, keys: dict[str, bytes], *, exclusive: bool = False) -> None:
    document = {
        "format": _FORMAT,
        "current": current,
        "keys": {kek_id: base64.b64encode(key).decode() for kek_id, key in keys.items()},
    }
    # Written to a 0600 temporary file and renamed, so a crash never leaves a half-written keyring.
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle)
        handle.flush()
        os.fsync(handle.fileno())
    if exclusive and path.exists():
        temporary.unlink()
        return
    os.replace(temporary, path)


def _load(path: Path) -> tuple[str, dict[str, bytes]]:
    try:
        document = json.loads(path.read_text())
        if document.get("format") != _FORMAT:
            raise ValueError("unknown format")
        keys = {kek_id: base64.b64decode(value) for kek_id, value in document["keys"].items()}
        current = document["current"]
        if current not in keys or any(len(key) != 32 for key in keys.values()):
            raise ValueError("inconsistent keys")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"keyring {path} is not a readable Pledge keyring ({exc})") from None
    return current, keys
