"""The store's write guard is one pure function of the manifest and the values (``checked_values``), and a write
through the store refuses exactly what it refuses: so the statement's probe of that function (no database, no keys)
says what the store does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.store.pii_corpus import FALSE_POSITIVES, TRUE_POSITIVES

from pledge.errors import PledgeError
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field, TenantStore
from pledge.store.claims import guard_failures
from pledge.store.tenant_store import checked_values, declared_collection

MANIFEST = DataManifest(
    (
        Collection(
            "notes",
            "Notes",
            (
                Field("body", Category.CONTENT, "The note"),
                Field("owner", Category.PERSONAL, "Who wrote it"),
                Field("colour", Category.CONFIGURATION, "How it is shown"),
            ),
        ),
    )
)
CORPUS = [text for _, text, _ in TRUE_POSITIVES] + [text for _, text in FALSE_POSITIVES]
VALUES = st.one_of(
    st.sampled_from(CORPUS),
    st.text(max_size=40),
    st.integers(),
    st.lists(st.sampled_from(CORPUS), max_size=2),
    st.builds(object),  # not JSON: refused as InvalidValue by both
)


def _refusal(attempt: Any) -> type[PledgeError] | None:
    try:
        attempt()
    except PledgeError as refused:
        return type(refused)
    return None


@pytest.fixture
def store(runtime: Runtime) -> TenantStore:
    tenant = runtime.tenants.create(
        app_key="guarded", client_key="ck-guard", base_url="https://guard.atlassian.net", product_type="jira"
    )
    return TenantStore(
        runtime.engine, runtime.vault, runtime.clock, app_key="guarded", manifest=MANIFEST, tenant_id=tenant.id
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    collection=st.sampled_from(["notes", "undeclared"]),
    values=st.dictionaries(st.sampled_from(["body", "owner", "colour", "stray"]), VALUES, max_size=3),
)
def test_a_store_write_is_refused_exactly_when_the_guard_refuses_it(
    store: TenantStore, collection: str, values: dict[str, Any]
) -> None:
    guard = _refusal(lambda: checked_values(declared_collection(MANIFEST, "guarded", collection), "guarded", values))
    assert _refusal(lambda: store.create(collection, values)) is guard


def test_the_guard_probe_needs_no_database_and_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy

    import pledge.vault

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the guard probe built a database or a keyring")

    monkeypatch.setattr(sqlalchemy, "create_engine", refused)
    monkeypatch.setattr(pledge.vault.Vault, "__init__", refused)
    assert guard_failures() == []
