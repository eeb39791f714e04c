"""S4: rotating a tenant's data key re-encrypts its records; an interrupted rotation leaves every record readable."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import TenantStore, codec, reencrypt_tenant, rotate_tenant_key
from pledge.store.tables import records_table
from pledge.tenants import Tenant, tenants_table
from pledge.vault import ciphertext_key_version


def _versions(runtime: Runtime, tenant_id: str) -> Counter[int]:
    with runtime.engine.connect() as connection:
        return Counter(
            connection.execute(
                select(records_table.c.key_version).where(records_table.c.tenant_id == tenant_id)
            ).scalars()
        )


def _fill(store: TenantStore) -> dict[str, dict[str, Any]]:
    written = {}
    for i in range(15):
        record = store.create("rules", {"name": f"rule {i}", "recipient": f"r{i % 3}@example.com", "body": "b"})
        written[record.id] = record.values
        record = store.create("sent", {"issue": f"OPS-{i}"})
        written[record.id] = record.values
    return written


def _all(store: TenantStore) -> dict[str, dict[str, Any]]:
    return {r.id: r.values for c in ("rules", "sent") for r in store.list(c, limit=1000)}


def test_rotation_moves_every_record_to_the_new_key_and_lookups_still_work(
    runtime: Runtime, store: TenantStore, tenant: Tenant, other_tenant: Tenant, mailer: App
) -> None:
    written = _fill(store)
    untouched = runtime.store_for(mailer, other_tenant).create("rules", {"name": "elsewhere"})
    rotation = rotate_tenant_key(runtime.engine, runtime.vault, tenant.id, batch_size=7)
    assert (rotation.key_version, rotation.records) == (2, 30)
    assert _versions(runtime, tenant.id) == Counter({2: 30})
    assert _all(store) == written
    assert len(store.list("rules", where={"recipient": "r1@example.com"})) == 5
    assert _versions(runtime, other_tenant.id) == Counter({1: 1})
    assert runtime.store_for(mailer, other_tenant).get("rules", untouched.id)["name"] == "elsewhere"
    assert reencrypt_tenant(runtime.engine, runtime.vault, tenant.id).records == 0


def test_a_rotation_that_crashes_half_way_leaves_everything_readable_and_resumes(
    runtime: Runtime, store: TenantStore, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _fill(store)
    real_seal = codec.seal
    calls = 0

    def crashing_seal(*args: Any, **kwargs: Any) -> codec.Sealed:
        nonlocal calls
        calls += 1
        if calls == 14:
            raise RuntimeError("power cut")
        return real_seal(*args, **kwargs)

    monkeypatch.setattr(codec, "seal", crashing_seal)
    with pytest.raises(RuntimeError, match="power cut"):
        rotate_tenant_key(runtime.engine, runtime.vault, tenant.id, batch_size=10)
    monkeypatch.setattr(codec, "seal", real_seal)

    assert _versions(runtime, tenant.id) == Counter({2: 10, 1: 20})  # the first batch committed, the second not
    assert _all(store) == written
    assert len(store.list("rules", where={"recipient": "r2@example.com"})) == 5
    store.update("sent", list(written)[-1], {"note": "written under the new key by the app"})

    resumed = reencrypt_tenant(runtime.engine, runtime.vault, tenant.id, batch_size=10)
    assert resumed.records == 19
    assert _versions(runtime, tenant.id) == Counter({2: 30})
    assert len(store.list("rules", where={"recipient": "r2@example.com"})) == 5


def _secret_version(runtime: Runtime, tenant_id: str) -> int:
    with runtime.engine.connect() as connection:
        sealed = connection.execute(
            select(tenants_table.c.shared_secret).where(tenants_table.c.id == tenant_id)
        ).scalar_one()
    return ciphertext_key_version(sealed)


def test_rotation_from_any_caller_reseals_the_shared_secret_under_the_new_key(
    runtime: Runtime, store: TenantStore, tenant: Tenant, other_tenant: Tenant
) -> None:
    # The CLI used to re-seal it itself: a rotation run from elsewhere left the secret under the old key.
    runtime.tenants.set_shared_secret(tenant.id, "connect-shared-secret")
    runtime.tenants.set_shared_secret(other_tenant.id, "other-secret")
    store.create("rules", {"name": "n"})
    rotation = rotate_tenant_key(runtime.engine, runtime.vault, tenant.id)
    assert rotation.key_version == 2
    assert _secret_version(runtime, tenant.id) == 2
    assert runtime.tenants.shared_secret(tenant.id) == "connect-shared-secret"
    assert _secret_version(runtime, other_tenant.id) == 1


def test_an_interrupted_rotation_resumed_reseals_the_shared_secret(runtime: Runtime, tenant: Tenant) -> None:
    runtime.tenants.set_shared_secret(tenant.id, "connect-shared-secret")
    runtime.vault.rotate_data_key(tenant.id)  # a rotation that stopped right after making the new key
    assert _secret_version(runtime, tenant.id) == 1
    assert reencrypt_tenant(runtime.engine, runtime.vault, tenant.id).records == 0
    assert _secret_version(runtime, tenant.id) == 2
    assert runtime.tenants.shared_secret(tenant.id) == "connect-shared-secret"


def test_a_tenant_without_a_shared_secret_rotates(runtime: Runtime, store: TenantStore, tenant: Tenant) -> None:
    store.create("rules", {"name": "n"})
    assert rotate_tenant_key(runtime.engine, runtime.vault, tenant.id).records == 1
