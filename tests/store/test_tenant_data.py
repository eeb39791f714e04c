"""A tenant's data as one thing: what an export holds comes back whole after a delete and an import, a delete leaves
nothing of the tenant in any table that holds tenants' rows, and other tenants are never touched."""

from __future__ import annotations

import importlib
import json
import pkgutil
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from examples.forge_notes.app import app
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Table, func, select

import pledge
from pledge.db import metadata
from pledge.errors import ConfigurationError
from pledge.forge.installations import forge_installations_table
from pledge.host import create_host
from pledge.reporting import reporting_job
from pledge.runtime import Runtime
from pledge.store.tables import RECORD_ROWS, records_table
from pledge.tenantdata import FORMAT, TableRows, TenantDataConflict, TenantDataError

KEPT = {
    "forge_realm_migrations": "where a tenant went: the source keeps it after the move, to answer 421 not 'unknown'",
    "shredded_tenants": "the proof a tenant was shredded: kept, so that its keys never come back",
    "tenant_changes": "this deployment's number of the tenant's last change, for instances' caches: not portable",
    "shred_ledger": "which tenants were purged, when and why: kept, so that a restore never brings one back",
    "legal_requests": "disclosures to authorities: an append-only register kept for the transparency report",
}
"""Tables with a tenant's id that are not its data: each says why it outlives a delete."""


def _import_every_module() -> None:
    """Every table is declared on ``pledge.db.metadata`` by the module that owns it: import them all."""
    for module in pkgutil.walk_packages(pledge.__path__, "pledge."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)


def _tenant_column(table: Table) -> str | None:
    if table.name == "tenants":
        return "id"
    for column in table.columns:
        if column.name == "tenant_id" or any(key.target_fullname == "tenants.id" for key in column.foreign_keys):
            return column.name
    return None


def tenant_tables() -> dict[str, Table]:
    _import_every_module()
    return {table.name: table for table in metadata.sorted_tables if _tenant_column(table) is not None}


def held(engine: Engine, tenant_id: str) -> dict[str, int]:
    """How many rows of the tenant each table that holds tenants' data has (tables without any left out)."""
    counts = {}
    with engine.connect() as connection:
        for name, table in tenant_tables().items():
            column = table.c[_tenant_column(table) or ""]
            counts[name] = connection.execute(select(func.count()).where(column == tenant_id)).scalar_one()
    return {name: count for name, count in counts.items() if count and name not in KEPT}


def test_every_table_that_holds_tenants_rows_is_in_the_tenant_data_or_kept_on_purpose(runtime: Runtime) -> None:
    create_host(runtime, [app])  # a Forge app bound to the runtime: Forge's tables join its tenant data
    reporting_job(runtime, [app])  # as `pledge serve` declares it: the reporting cycles join too
    assert set(runtime.tenant_data.names) == set(tenant_tables()) - set(KEPT)
    assert set(KEPT) <= set(tenant_tables())


def test_a_part_is_registered_once_and_no_other_part_takes_its_name(runtime: Runtime) -> None:
    names = runtime.tenant_data.names
    runtime.tenant_data.register(RECORD_ROWS)
    assert runtime.tenant_data.names == names
    with pytest.raises(ConfigurationError, match="store_records"):
        runtime.tenant_data.register(TableRows(records_table, "app_key"))
    assert runtime.tenant_data.without("store_records").names == tuple(n for n in names if n != "store_records")


@dataclass(frozen=True)
class TenantSpec:
    notes: list[tuple[str, str]]
    secret: bool
    lifecycle_iat: float | None
    license_active: bool | None
    rotations: int


tenant_specs = st.builds(
    TenantSpec,
    notes=st.lists(
        st.tuples(
            st.from_regex(r"[A-Z]{2,5}-[1-9][0-9]{0,3}", fullmatch=True), st.text("abcdefghij klmnop", max_size=40)
        ),
        max_size=4,
    ),
    secret=st.booleans(),
    lifecycle_iat=st.none() | st.floats(min_value=1e9, max_value=2e9),
    license_active=st.none() | st.booleans(),
    rotations=st.integers(0, 2),
)


def make_tenant(runtime: Runtime, spec: TenantSpec) -> str:
    tenant = runtime.tenants.create(
        app_key=app.key,
        installation_id=f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
        base_url="https://acme.atlassian.net",
        product_type="jira",
    )
    if spec.secret:
        runtime.tenants.set_shared_secret(tenant.id, "a shared secret of the site")
    if spec.lifecycle_iat is not None:
        runtime.tenants.order_lifecycle_event(tenant.id, spec.lifecycle_iat, strictly_newer=False)
    if spec.license_active is not None:
        with runtime.engine.begin() as connection:
            connection.execute(
                forge_installations_table.insert().values(
                    tenant_id=tenant.id, license_active=spec.license_active, license_changed_at=runtime.clock.now()
                )
            )
    for _ in range(spec.rotations):
        runtime.vault.key_version(tenant.id)
        runtime.vault.rotate_data_key(tenant.id)
    store = runtime.store_for(app, tenant)
    for issue_key, text in spec.notes:
        store.create("notes", {"issue_key": issue_key, "text": text})
    return tenant.id


def notes_of(runtime: Runtime, tenant_id: str) -> list[dict[str, Any]]:
    records = runtime.store_for(app, runtime.tenants.get(tenant_id)).list("notes")
    return sorted((dict(record.values) for record in records), key=lambda values: sorted(values.items()))


_EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_EXAMPLES
@given(specs=st.lists(tenant_specs, min_size=1, max_size=3))
def test_export_delete_import_gives_back_the_same_tenant_and_touches_no_other(
    runtime: Runtime, specs: list[TenantSpec]
) -> None:
    data = runtime.tenant_data
    create_host(runtime, [app])
    tenants = [make_tenant(runtime, spec) for spec in specs]
    moved, others = tenants[0], tenants[1:]
    exported = {tenant: data.export(tenant) for tenant in tenants}
    notes, rows = notes_of(runtime, moved), held(runtime.engine, moved)
    document = json.loads(json.dumps(exported[moved]))  # as a file or a request carries it
    assert document == exported[moved]

    data.delete(moved)
    assert held(runtime.engine, moved) == {}
    assert {tenant: data.export(tenant) for tenant in others} == {tenant: exported[tenant] for tenant in others}

    assert data.import_(document) == moved
    assert data.export(moved) == exported[moved]
    assert held(runtime.engine, moved) == rows  # also in tables the set does not know
    assert {tenant: data.export(tenant) for tenant in others} == {tenant: exported[tenant] for tenant in others}
    assert notes_of(runtime, moved) == notes  # its keys came back with it: the records open
    with pytest.raises(TenantDataConflict):
        data.import_(document)
    for tenant in tenants:
        data.delete(tenant)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)


@_EXAMPLES
@given(part=st.integers(0, 10), row=st.integers(0, 10), column=st.integers(0, 20), value=json_values)
@example(part=2, row=0, column=4, value=False)  # a bool for a bytes column: psycopg raised TypeError, not a refusal
def test_an_altered_document_is_imported_whole_or_refused_with_nothing_written(
    runtime: Runtime, part: int, row: int, column: int, value: object
) -> None:
    data = runtime.tenant_data
    tenant = make_tenant(runtime, TenantSpec([("OPS-1", "printer on fire")], True, 1.7e9, None, 1))
    document = data.export(tenant)
    data.delete(tenant)
    rows = [rows for rows in document["parts"].values() if rows]
    chosen = rows[part % len(rows)][row % len(rows[part % len(rows)])]
    chosen[sorted(chosen)[column % len(chosen)]] = value
    try:
        data.import_(document)
    except TenantDataError:
        assert held(runtime.engine, tenant) == {}
    else:
        data.delete(tenant)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    document=json_values
    | st.fixed_dictionaries({"format": st.just(FORMAT)}, optional={"tenantId": json_values, "parts": json_values})
)
def test_anything_but_an_export_is_refused(runtime: Runtime, document: object) -> None:
    with pytest.raises(TenantDataError):
        runtime.tenant_data.import_(document)
