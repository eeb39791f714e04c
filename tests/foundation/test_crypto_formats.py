"""Each format of docs/crypto.md, decoded here from the page's description alone with the bare primitives: what
earlier releases wrote keeps reading, and the page stays true."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, select

from pledge.clock import FrozenClock
from pledge.vault import Aad, LocalKeyring, TransferSeal, Vault, WrappedKey, envelope, keyring, transfer
from pledge.vault.envelope import data_keys_table

DOCUMENT = Path(__file__).parents[2] / "docs" / "crypto.md"


def _lp(*parts: str | bytes) -> bytes:
    encoded = [part.encode() if isinstance(part, str) else part for part in parts]
    return b"".join(len(part).to_bytes(4, "big") + part for part in encoded)


def _open_recipe(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    assert sealed[0] == 0x01
    return AESGCM(key).decrypt(sealed[1:13], sealed[13:], aad)


def test_the_document_names_every_purpose_the_code_uses() -> None:
    text = DOCUMENT.read_text()
    for purpose in (envelope.RECORD_PURPOSE, keyring.WRAP_PURPOSE, transfer.TRANSFER_PURPOSE):
        assert f"`{purpose}`" in text
    assert re.search(r"version = 0x01", text)


def test_the_keyring_file_wrapped_keys_records_and_secrets_decode_as_documented(
    engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "keyring.json"
    vault = Vault(engine, LocalKeyring(path), clock)
    payload = vault.encrypt("tenant-a", Aad("mailer/rules", "record-1", "*"), b'{"name":"n"}')
    secret = vault.seal("tenant-a", "connect.shared_secret", b"shh")

    document = json.loads(path.read_text())
    assert document["format"] == "pledge-keyring/1"
    kek = base64.b64decode(document["keys"][document["current"]])
    with engine.connect() as connection:
        row = connection.execute(select(data_keys_table)).one()
    assert (row.kek_id, len(row.wrapped_key)) == (document["current"], 61)
    context = f"pledge/data-key/1|tenant-a|{row.version}"
    data_key = _open_recipe(kek, row.wrapped_key, _lp("pledge/kek-wrap/1", row.kek_id, context))

    version = row.version
    assert payload[:5] == b"\x01" + version.to_bytes(4, "big")
    record_aad = _lp("pledge/aad/1", "tenant-a", "mailer/rules", "record-1", "*", str(version))
    assert AESGCM(data_key).decrypt(payload[5:17], payload[17:], record_aad) == b'{"name":"n"}'
    secret_aad = _lp("pledge/aad/1", "tenant-a", "_tenant", "tenant-a", "connect.shared_secret", str(version))
    assert AESGCM(data_key).decrypt(secret[5:17], secret[17:], secret_aad) == b"shh"


def test_a_wrap_of_an_earlier_release_still_unwraps(tmp_path: Path) -> None:
    # Before the recipe: nonce | ciphertext | tag, the context alone as associated data, no version byte.
    local = LocalKeyring(tmp_path / "keyring.json")
    kek = base64.b64decode(json.loads(local.path.read_text())["keys"]["kek-1"])
    data_key, nonce, context = bytes(range(32)), bytes(12), b"pledge/data-key/1|tenant-a|1"
    legacy = WrappedKey("kek-1", nonce + AESGCM(kek).encrypt(nonce, data_key, context))
    assert local.unwrap(legacy, context) == data_key


def test_a_transfer_bundle_decodes_as_documented() -> None:
    key = bytes(range(32))
    sealed = TransferSeal(key).seal("m-1", "import", {"migrationId": "m-1"})
    plaintext = _open_recipe(key, sealed, _lp("pledge/transfer/1", "m-1", "import"))
    assert json.loads(plaintext) == {"migrationId": "m-1"}
