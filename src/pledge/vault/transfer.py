"""Documents one deployment hands to another (a tenant moved to another realm), sealed under the key they share.

The recipe is the vault's (:mod:`pledge.vault.aead`); the associated data names the transfer (the realm migration's
id) and its step (``import``, ``commit``, ``rollback``), so a sealed step can be replayed neither as another step nor
for another transfer. docs/crypto.md gives the byte layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pledge.vault.aead as aead

TRANSFER_PURPOSE = "pledge/transfer/1"


class TransferSeal:
    """Seal and open JSON documents under a transfer key of 32 bytes; any failure to open is ``CiphertextInvalid``."""

    def __init__(self, key: bytes) -> None:
        if len(key) != aead.KEY_BYTES:
            raise ValueError(f"a transfer key is {aead.KEY_BYTES} bytes, not {len(key)}")
        self._key = key

    def seal(self, transfer_id: str, step: str, document: Mapping[str, Any]) -> bytes:
        return aead.seal(self._key, json.dumps(document).encode(), _aad(transfer_id, step))

    def open(self, transfer_id: str, step: str, sealed: bytes) -> dict[str, Any]:
        plaintext = aead.open(self._key, sealed, _aad(transfer_id, step))
        try:
            document = json.loads(plaintext)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            # Only a peer holding the key could seal this: still refused as what it is, not a JSON object.
            raise aead.CiphertextInvalid("the sealed transfer document is not a JSON object")
        return document


def _aad(transfer_id: str, step: str) -> aead.AssociatedData:
    return aead.AssociatedData(TRANSFER_PURPOSE, transfer_id, step)
