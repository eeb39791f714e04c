import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pledge.clock import FrozenClock
from pledge.vault import Aad, CiphertextInvalid, KeyringError, KeyShredded, LocalKeyring, Vault, envelope

AAD = Aad("emails", "record-1", "subject")


@pytest.fixture
def vault(engine: Engine, tmp_path: Path, clock: FrozenClock) -> Vault:
    return Vault(engine, LocalKeyring(tmp_path / "keyring.json"), clock)


def test_keyring_file_is_created_0600(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keys" / "keyring.json")
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600


def test_keyring_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    LocalKeyring(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyringError, match=f"mode 0644, readable by others: run `chmod 600 {path}`"):
        LocalKeyring(path)


def test_corrupt_keyring_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("{not json")
    os.chmod(path, 0o600)
    with pytest.raises(KeyringError, match="not a readable Pledge keyring"):
        LocalKeyring(path)


def test_round_trip(vault: Vault) -> None:
    assert vault.decrypt("tenant-a", AAD, vault.encrypt("tenant-a", AAD, b"hello")) == b"hello"


@pytest.mark.parametrize(
    ("tenant", "aad"),
    [
        ("tenant-b", AAD),
        ("tenant-a", Aad("emails", "record-2", "subject")),
        ("tenant-a", Aad("emails", "record-1", "body")),
        ("tenant-a", Aad("other", "record-1", "subject")),
    ],
)
def test_ciphertext_moved_to_another_tenant_row_or_field_does_not_decrypt(vault: Vault, tenant: str, aad: Aad) -> None:
    ciphertext = vault.encrypt("tenant-a", AAD, b"hello")
    vault.encrypt("tenant-b", AAD, b"gives tenant-b a key")
    with pytest.raises(CiphertextInvalid):
        vault.decrypt(tenant, aad, ciphertext)


def test_tampered_or_truncated_ciphertext_is_refused(vault: Vault) -> None:
    ciphertext = bytearray(vault.encrypt("tenant-a", AAD, b"hello"))
    ciphertext[-1] ^= 1
    with pytest.raises(CiphertextInvalid):
        vault.decrypt("tenant-a", AAD, bytes(ciphertext))
    with pytest.raises(CiphertextInvalid, match="truncated"):
        vault.decrypt("tenant-a", AAD, bytes(ciphertext[:10]))


def test_data_key_rotation_keeps_old_ciphertexts_readable(vault: Vault) -> None:
    old = vault.encrypt("tenant-a", AAD, b"old")
    assert vault.rotate_data_key("tenant-a") == 2
    new = vault.encrypt("tenant-a", AAD, b"new")
    assert old[1:5] != new[1:5]
    assert vault.decrypt("tenant-a", AAD, old) == b"old"
    assert vault.decrypt("tenant-a", AAD, new) == b"new"


def test_kek_rotation_rewraps_without_reencrypting(engine: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "keyring.json"
    vault = Vault(engine, LocalKeyring(path), clock)
    ciphertext = vault.encrypt("tenant-a", AAD, b"data")
    assert vault.rotate_kek() == 1
    fresh = Vault(engine, LocalKeyring(path), clock)
    assert fresh.decrypt("tenant-a", AAD, ciphertext) == b"data"


def test_shred_makes_every_copy_unreadable_even_with_the_kek(
    engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "keyring.json"
    vault = Vault(engine, LocalKeyring(path), clock)
    ciphertext = vault.encrypt("tenant-a", AAD, b"data")
    other = vault.encrypt("tenant-b", AAD, b"kept")
    assert vault.shred("tenant-a") == 1
    for reader in (vault, Vault(engine, LocalKeyring(path), clock)):
        with pytest.raises(KeyShredded):
            reader.decrypt("tenant-a", AAD, ciphertext)
        assert reader.decrypt("tenant-b", AAD, other) == b"kept"


def test_another_keyring_cannot_unwrap(engine: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    ciphertext = Vault(engine, LocalKeyring(tmp_path / "one.json"), clock).encrypt("tenant-a", AAD, b"data")
    with pytest.raises(KeyringError):
        Vault(engine, LocalKeyring(tmp_path / "two.json"), clock).decrypt("tenant-a", AAD, ciphertext)


def test_a_shredded_tenant_is_refused_a_fresh_key(engine: Engine, tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "keyring.json"
    vault = Vault(engine, LocalKeyring(path), clock)
    vault.encrypt("tenant-a", AAD, b"data")
    vault.shred("tenant-a")
    assert vault.is_shredded("tenant-a")
    for writer in (vault, Vault(engine, LocalKeyring(path), clock)):
        with pytest.raises(KeyShredded, match="tenant-a was crypto-shredded"):
            writer.encrypt("tenant-a", AAD, b"new data")
        with pytest.raises(KeyShredded):
            writer.rotate_data_key("tenant-a")
    assert not vault.has_keys("tenant-a")
    assert vault.shred("tenant-a") == 0


def test_a_ciphertext_naming_a_key_version_the_tenant_never_had_is_foreign(vault: Vault) -> None:
    ciphertext = bytearray(vault.encrypt("tenant-a", AAD, b"data"))
    ciphertext[1:5] = (7).to_bytes(4, "big")
    with pytest.raises(CiphertextInvalid, match="has no data key version 7"):
        vault.decrypt("tenant-a", AAD, bytes(ciphertext))


def test_the_key_cache_is_bounded_and_evicted_keys_are_unwrapped_again(
    engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    vault = Vault(engine, LocalKeyring(tmp_path / "keyring.json"), clock, cache_size=2)
    tenants = [f"tenant-{i}" for i in range(5)]
    sealed = {t: vault.encrypt(t, AAD, t.encode()) for t in tenants}
    assert len(vault._keys._entries) == 2
    assert {t: vault.decrypt(t, AAD, c) for t, c in sealed.items()} == {t: t.encode() for t in tenants}


def test_blind_indexes_are_equal_only_for_the_same_tenant_scope_and_value(vault: Vault) -> None:
    assert vault.key_version("tenant-a") == vault.key_version("tenant-b") == 1
    digest = vault.blind_index("tenant-a", 1, "mailer/rules", "recipient", b'"a@example.com"')
    assert digest == vault.blind_index("tenant-a", 1, "mailer/rules", "recipient", b'"a@example.com"')
    assert len(digest) == 32
    others = [
        vault.blind_index("tenant-b", 1, "mailer/rules", "recipient", b'"a@example.com"'),
        vault.blind_index("tenant-a", 1, "mailer/other", "recipient", b'"a@example.com"'),
        vault.blind_index("tenant-a", 1, "mailer/rules", "owner", b'"a@example.com"'),
        vault.blind_index("tenant-a", 1, "mailer/rules", "recipient", b'"b@example.com"'),
        vault.blind_index(
            "tenant-a", vault.rotate_data_key("tenant-a"), "mailer/rules", "recipient", b'"a@example.com"'
        ),
    ]
    assert digest not in others
    assert b"a@example.com" not in digest


def test_a_shred_on_another_instance_reaches_this_one_within_the_cache_ttl(
    engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "keyring.json"
    this = Vault(engine, LocalKeyring(path), clock, monotonic=clock.timestamp)
    other = Vault(engine, LocalKeyring(path), clock)
    ciphertext = this.encrypt("tenant-a", AAD, b"data")
    other.shred("tenant-a")
    clock.advance(timedelta(seconds=envelope.CACHE_TTL_SECONDS + 1))
    with pytest.raises(KeyShredded):
        this.decrypt("tenant-a", AAD, ciphertext)
    with pytest.raises(KeyShredded):
        this.encrypt("tenant-a", AAD, b"written after the purge")


def test_many_secrets_unseal_at_once_as_one_by_one_and_the_unreadable_are_left_out(
    vault: Vault, engine: Engine, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envelope, "TENANTS_PER_KEY_READ", 2)  # several reads, a tenant's keys possibly split
    sealed = {f"tenant-{n}": vault.seal(f"tenant-{n}", "secret", f"secret {n}".encode()) for n in range(5)}
    vault.rotate_data_key("tenant-1")  # its secret stays sealed under version 1
    sealed["tenant-2"] = vault.seal("tenant-2", "secret", b"resealed")
    vault.shred("tenant-3")
    altered = bytearray(sealed["tenant-4"])
    altered[-1] ^= 1
    sealed["tenant-4"] = bytes(altered)
    sealed["tenant-5"] = vault.seal("tenant-5", "another name", b"not this secret")
    fresh = Vault(engine, LocalKeyring(tmp_path / "keyring.json"), clock)  # nothing cached: every key read
    opened = fresh.unseal_many("secret", sealed)
    assert opened == {"tenant-0": b"secret 0", "tenant-1": b"secret 1", "tenant-2": b"resealed"}
    assert fresh.cached_keys() == 0  # each key used once, not kept
    assert {tenant_id: fresh.unseal(tenant_id, "secret", sealed[tenant_id]) for tenant_id in opened} == opened
