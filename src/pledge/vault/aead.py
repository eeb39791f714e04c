"""The one AEAD recipe of Pledge: what the keyring, transfer bundles and (inlined) record payloads are sealed with.

    sealed = version (1 byte, 0x01) | nonce (12 random bytes) | AES-256-GCM ciphertext | tag (16 bytes)
    GCM associated data = lp(purpose) | lp(part 1) | ... | lp(part n),   lp(x) = len(x) as 4 bytes big-endian | x

The purpose names what is sealed and its layout version (``pledge/kek-wrap/1``): a value sealed for one purpose never
opens as another, even under the same key. The parts say what the value belongs to (a tenant and key version, a
migration and its step). Whatever is wrong — version, nonce, ciphertext, tag, key or associated data — opening raises
:class:`CiphertextInvalid` and nothing else. docs/crypto.md describes every format built on it.
"""

from __future__ import annotations

import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pledge.errors import PledgeError

VERSION = 1
"""The first byte of every sealed value (records add their key version after it)."""
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES

_PURPOSE = re.compile(r"pledge/[a-z0-9-]+/[1-9][0-9]{0,3}")


class CiphertextInvalid(PledgeError):
    """The ciphertext was altered, truncated, of an unknown version, or belongs to another key, tenant or context."""


class AssociatedData:
    """What a sealed value is bound to: a purpose (``pledge/<name>/<layout version>``) and at least one part."""

    __slots__ = ("encoded",)

    def __init__(self, purpose: str, *parts: str | bytes) -> None:
        if not _PURPOSE.fullmatch(purpose):
            raise ValueError(f"the purpose of associated data is pledge/<name>/<version>, not {purpose!r}")
        if not parts:
            raise ValueError("associated data names what the value belongs to: give at least one part")
        self.encoded = length_prefixed(purpose, *parts)
        """The bytes given to AES-GCM as associated data."""


def seal(key: bytes, plaintext: bytes, aad: AssociatedData) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key`` (32 bytes), bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return bytes((VERSION,)) + nonce + _cipher(key).encrypt(nonce, plaintext, aad.encoded)


def open(key: bytes, sealed: bytes, aad: AssociatedData) -> bytes:
    """The plaintext of ``sealed``; :class:`CiphertextInvalid` unless it was sealed by :func:`seal` under ``key``
    with the same ``aad`` and not changed since."""
    if len(sealed) < OVERHEAD:
        raise CiphertextInvalid("ciphertext is truncated")
    if sealed[0] != VERSION:
        raise CiphertextInvalid(f"unknown ciphertext version {sealed[0]}")
    try:
        return _cipher(key).decrypt(sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :], aad.encoded)
    except InvalidTag:
        raise CiphertextInvalid("ciphertext was altered, or sealed under another key or associated data") from None


def length_prefix(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def length_prefixed(*parts: str | bytes) -> bytes:
    """Each part (text in UTF-8) after its 4-byte length: no two different tuples encode to the same bytes."""
    encoded = bytearray()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        encoded += len(data).to_bytes(4, "big")
        encoded += data
    return bytes(encoded)


def _cipher(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256-GCM key is {KEY_BYTES} bytes, not {len(key)}")
    return AESGCM(key)
