"""The vault's one AEAD recipe refuses any change — to the version byte, the nonce, the ciphertext, the tag or the
associated data — with its one exception, in each format built on it (records, wrapped data keys, transfers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine

from pledge import schema
from pledge.clock import FrozenClock
from pledge.vault import (
    Aad,
    AssociatedData,
    CiphertextInvalid,
    KeyringError,
    LocalKeyring,
    TransferSeal,
    Vault,
    WrappedKey,
    aead,
)

KEY = bytes(range(32))
AAD = AssociatedData("pledge/test/1", "tenant-a", b"\x00\x01")
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

texts = st.text(max_size=40)
parts = st.lists(st.one_of(texts, st.binary(max_size=40)), min_size=1, max_size=4)


def _changed(sealed: bytes, position: int, delta: int) -> bytes:
    """``sealed`` with one byte changed (every position: version byte, nonce, ciphertext, tag)."""
    changed = bytearray(sealed)
    changed[position % len(changed)] ^= delta
    return bytes(changed)


@given(plaintext=st.binary(max_size=300), context=parts)
@settings(max_examples=200, deadline=None)
def test_what_is_sealed_opens_with_the_same_key_and_associated_data(plaintext: bytes, context: list[str]) -> None:
    aad = AssociatedData("pledge/test/1", *context)
    sealed = aead.seal(KEY, plaintext, aad)
    assert sealed[0] == aead.VERSION and len(sealed) == aead.OVERHEAD + len(plaintext)
    assert aead.open(KEY, sealed, AssociatedData("pledge/test/1", *context)) == plaintext


@given(plaintext=st.binary(max_size=100), position=st.integers(min_value=0), delta=st.integers(1, 255))
@settings(max_examples=300, deadline=None)
def test_any_changed_byte_is_refused(plaintext: bytes, position: int, delta: int) -> None:
    sealed = aead.seal(KEY, plaintext, AAD)
    with pytest.raises(CiphertextInvalid):
        aead.open(KEY, _changed(sealed, position, delta), AAD)


@given(plaintext=st.binary(max_size=100), cut=st.integers(min_value=1), extra=st.binary(min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_truncated_or_extended_is_refused(plaintext: bytes, cut: int, extra: bytes) -> None:
    sealed = aead.seal(KEY, plaintext, AAD)
    for wrong in (sealed[: (cut - 1) % len(sealed)], sealed + extra):
        with pytest.raises(CiphertextInvalid):
            aead.open(KEY, wrong, AAD)


@given(context=parts, other=parts, purpose=st.sampled_from(["pledge/test/1", "pledge/test/2", "pledge/other/1"]))
@settings(max_examples=300, deadline=None)
def test_other_associated_data_is_refused(context: list[str | bytes], other: list[str | bytes], purpose: str) -> None:
    sealed = aead.seal(KEY, b"value", AssociatedData("pledge/test/1", *context))
    wrong = AssociatedData(purpose, *other)
    if wrong.encoded == AssociatedData("pledge/test/1", *context).encoded:
        return  # the same associated data, drawn twice
    with pytest.raises(CiphertextInvalid):
        aead.open(KEY, sealed, wrong)


def test_another_key_is_refused() -> None:
    with pytest.raises(CiphertextInvalid):
        aead.open(os.urandom(32), aead.seal(KEY, b"value", AAD), AAD)


@pytest.mark.parametrize(("purpose", "context"), [("", ("x",)), ("test/1", ("x",)), ("pledge/Test/1", ("x",))])
def test_associated_data_has_a_purpose_and_names_what_it_belongs_to(purpose: str, context: tuple[str]) -> None:
    with pytest.raises(ValueError, match="pledge/<name>/<version>"):
        AssociatedData(purpose, *context)
    with pytest.raises(ValueError, match="at least one part"):
        AssociatedData("pledge/test/1")


def test_keys_are_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        aead.seal(KEY[:16], b"value", AAD)


# --- the formats built on the recipe -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    # One SQLite vault for every example: the recipe does not depend on the engine (the store's tests run both).
    directory = tmp_path_factory.mktemp("aead")
    engine: Engine = create_engine(f"sqlite:///{directory / 'vault.db'}")
    schema.upgrade(engine)
    vault = Vault(engine, LocalKeyring(directory / "keyring.json"), FrozenClock())
    vault.rotate_data_key("tenant-a")
    vault.rotate_data_key("tenant-a")  # versions 1 and 2: a changed key version can name a key that exists
    yield vault
    engine.dispose()


RECORD = Aad("app/rules", "record-1", "*")


@given(plaintext=st.binary(max_size=100), position=st.integers(min_value=0), delta=st.integers(1, 255))
@PROPERTY
def test_a_record_payload_with_any_changed_byte_is_refused(
    vault: Vault, plaintext: bytes, position: int, delta: int
) -> None:
    sealed = vault.encrypt("tenant-a", RECORD, plaintext, key_version=1)
    with pytest.raises(CiphertextInvalid):
        vault.decrypt("tenant-a", RECORD, _changed(sealed, position, delta))


@given(
    tenant=st.sampled_from(["tenant-a", "tenant-b"]),
    location=st.tuples(st.sampled_from(["app/rules", "app/other"]), st.sampled_from(["record-1", "record-2"])),
    field=st.sampled_from(["*", "name"]),
)
@PROPERTY
def test_a_record_payload_elsewhere_is_refused(
    vault: Vault, tenant: str, location: tuple[str, str], field: str
) -> None:
    aad = Aad(location[0], location[1], field)
    if (tenant, aad) == ("tenant-a", RECORD):
        return
    vault.key_version("tenant-b")
    with pytest.raises(CiphertextInvalid):
        vault.decrypt(tenant, aad, vault.encrypt("tenant-a", RECORD, b"value"))


@given(position=st.integers(min_value=0), delta=st.integers(1, 255))
@PROPERTY
def test_a_wrapped_data_key_with_any_changed_byte_is_refused(tmp_path: Path, position: int, delta: int) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    wrapped = keyring.wrap(KEY, b"pledge/data-key/1|tenant-a|1")
    with pytest.raises(KeyringError, match="cannot unwrap"):
        keyring.unwrap(
            WrappedKey(wrapped.kek_id, _changed(wrapped.ciphertext, position, delta)), b"pledge/data-key/1|tenant-a|1"
        )


def test_a_wrapped_data_key_unwraps_only_in_its_context_and_under_its_kek(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    wrapped = keyring.wrap(KEY, b"pledge/data-key/1|tenant-a|1")
    assert keyring.unwrap(wrapped, b"pledge/data-key/1|tenant-a|1") == KEY
    with pytest.raises(KeyringError, match="cannot unwrap"):
        keyring.unwrap(wrapped, b"pledge/data-key/1|tenant-b|1")
    keyring.rotate()
    with pytest.raises(KeyringError, match="cannot unwrap"):
        keyring.unwrap(WrappedKey("kek-2", wrapped.ciphertext), b"pledge/data-key/1|tenant-a|1")
    with pytest.raises(KeyringError, match="32 bytes"):
        keyring.wrap(KEY[:31], b"pledge/data-key/1|tenant-a|1")


@given(
    position=st.integers(min_value=0),
    delta=st.integers(1, 255),
    where=st.tuples(st.sampled_from(["m-1", "m-2"]), st.sampled_from(["import", "commit", "rollback"])),
)
@settings(max_examples=200, deadline=None)
def test_a_transfer_with_any_changed_byte_or_for_another_step_is_refused(
    position: int, delta: int, where: tuple[str, str]
) -> None:
    seal = TransferSeal(KEY)
    sealed = seal.seal("m-1", "import", {"tenantId": "t"})
    assert seal.open("m-1", "import", sealed) == {"tenantId": "t"}
    with pytest.raises(CiphertextInvalid):
        seal.open("m-1", "import", _changed(sealed, position, delta))
    if where != ("m-1", "import"):
        with pytest.raises(CiphertextInvalid):
            seal.open(*where, sealed)


@given(tenant=texts, location=st.tuples(texts, texts, texts), version=st.integers(1, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_a_records_associated_data_is_the_recipes(tenant: str, location: tuple[str, str, str], version: int) -> None:
    # The store builds it from cached pieces for speed: the bytes are the recipe's, purpose pledge/aad/1.
    collection, record_id, field = location
    expected = AssociatedData("pledge/aad/1", tenant, collection, record_id, field, str(version)).encoded
    assert Aad(collection, record_id, field).encode(tenant, version) == expected
