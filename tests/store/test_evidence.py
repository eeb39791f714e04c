"""S2/S14: the statement learns what each app stores (collections, categories, counts) without any decryption."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import Category, TenantStore, store_evidence
from pledge.store.tables import records_table
from pledge.tenants import Tenant
from pledge.vault import Vault


def test_evidence_lists_declared_collections_with_counts_and_undeclared_data(
    runtime: Runtime, store: TenantStore, mailer: App, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        store.create("rules", {"name": f"rule {i}"})
    runtime.store_for(mailer, other_tenant).create("rules", {"name": "other"})
    store.create("sent", {"issue": "OPS-1"})
    with runtime.engine.begin() as connection:  # left behind by an older version of the app
        connection.execute(
            insert(records_table).values(
                tenant_id=store.tenant_id,
                app_key="mailer",
                collection="drafts",
                id="0" * 32,
                key_version=1,
                revision=1,
                payload=b"\x01",
                created_at=runtime.clock.now(),
                updated_at=runtime.clock.now(),
            )
        )

    def no_decryption(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("evidence must not decrypt")

    monkeypatch.setattr(Vault, "decrypt", no_decryption)
    idle = App(key="idle", name="Idle")
    mailer_evidence, idle_evidence = store_evidence(runtime.engine, [mailer, idle])

    assert mailer_evidence.app_key == "mailer"
    rules, sent = mailer_evidence.collections
    assert (rules.name, rules.records, rules.tenants, rules.retention_days) == ("rules", 4, 2, None)
    assert rules.categories == (Category.CONFIGURATION, Category.CONTENT, Category.PERSONAL, Category.SECRET)
    assert [(f.name, f.category, f.indexed) for f in rules.fields][:2] == [
        ("name", Category.CONFIGURATION, True),
        ("project", Category.CONFIGURATION, True),
    ]
    assert (sent.name, sent.records, sent.tenants, sent.retention_days) == ("sent", 1, 1, 30)
    assert sent.categories == (Category.CONTENT,)
    assert [(u.name, u.records, u.tenants) for u in mailer_evidence.undeclared] == [("drafts", 1, 1)]
    assert mailer_evidence.holds_personal_data
    assert mailer_evidence.records == 6
    assert (idle_evidence.collections, idle_evidence.undeclared, idle_evidence.records) == ((), (), 0)
    assert not idle_evidence.holds_personal_data
