"""Issue #18 item 4: the register of legal requests keeps what it is given, checked whole and bounded, and the
database itself refuses to rewrite or remove a record, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.exc import DBAPIError

from pledge.app import App
from pledge.clock import FrozenClock
from pledge.legal import LegalRequestRefused, LegalRequests, legal_requests_table
from pledge.legal.claims import check_legal_requests
from pledge.runtime import Runtime
from pledge.statement.facts import Deployment
from pledge.tenants import Tenant

READER = App(key="reader", name="Reader")


@pytest.fixture
def site(runtime: Runtime) -> Tenant:
    return runtime.tenants.create(
        app_key="mailer", client_key="ck-1", base_url="https://acme.atlassian.net", product_type="jira"
    )


@pytest.fixture
def register(runtime: Runtime) -> LegalRequests:
    return LegalRequests(runtime.engine, runtime.clock)


def _record(register: LegalRequests, tenant_id: str, *, gag: bool = False, **overrides: str) -> None:
    fields = {"authority": "District Court of Oslo", "reference": "23-104512TVI-OTIR/05", "scope": "issue records"}
    register.record(tenant_id=tenant_id, gag=gag, **(fields | overrides))


def test_records_are_listed_counted_per_year_and_gagged_ones_withheld_from_the_site(
    register: LegalRequests, site: Tenant, runtime: Runtime, clock: FrozenClock
) -> None:
    _record(register, site.id)
    _record(register, site.id, gag=True, reference="GAG-1")
    clock.advance(timedelta(days=70))
    _record(register, site.id, reference="2027-7")

    assert [kept.reference for kept in register.records()] == ["23-104512TVI-OTIR/05", "GAG-1", "2027-7"]
    assert [kept.reference for kept in register.for_site(site.id)] == ["23-104512TVI-OTIR/05", "2027-7"]
    assert register.for_site("0" * 32) == []
    assert [(c.year, c.requests, c.gagged) for c in register.yearly_counts()] == [(2026, 2, 1), (2027, 1, 0)]
    evidence = check_legal_requests(Deployment.of(runtime, [READER]), None)
    assert evidence.passed, evidence.detail
    assert "transparency page served for 1 app; 2026: 2 requests (1 under a gag order); 2027: 1 request" in (
        evidence.detail
    )


def test_the_database_refuses_to_rewrite_or_remove_a_record(
    register: LegalRequests, site: Tenant, engine: Engine
) -> None:
    _record(register, site.id)
    table = legal_requests_table
    for statement in (update(table).values(gag=True), delete(table)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE legal_requests"))
    assert [(kept.gag, kept.reference) for kept in register.records()] == [(False, "23-104512TVI-OTIR/05")]


def test_the_claim_fails_when_the_register_is_not_append_only(runtime: Runtime, engine: Engine) -> None:
    trigger = "legal_requests_append_only" if engine.dialect.name == "postgresql" else "legal_requests_no_delete"
    with engine.begin() as connection:
        target = " ON legal_requests" if engine.dialect.name == "postgresql" else ""
        connection.execute(text(f"DROP TRIGGER {trigger}{target}"))
    evidence = check_legal_requests(Deployment.of(runtime, [READER]), None)
    assert not evidence.passed and trigger in evidence.detail


def test_an_unknown_tenant_is_refused(register: LegalRequests) -> None:
    with pytest.raises(LegalRequestRefused, match="names no tenant"):
        _record(register, "f" * 32)
    assert register.records() == []


_SECRETISH = st.text(min_size=1, max_size=300).filter(lambda value: len(value.strip()) > 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["authority", "reference", "scope", "tenant_id"]), value=_SECRETISH)
def test_a_refusal_never_repeats_what_it_refused(register: LegalRequests, site: Tenant, field: str, value: str) -> None:
    fields = {
        "authority": "District Court of Oslo",
        "reference": "A-1",
        "scope": "issue records",
        "tenant_id": site.id,
    }
    try:
        register.record(gag=False, **(fields | {field: value}))
    except LegalRequestRefused as exc:
        assert value.strip() not in str(exc)
        return
    kept = register.records()[-1]
    assert getattr(kept, field) == value.strip()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("authority", "Officer alice@example.com"),
        ("authority", "x" * 121),
        ("reference", "A 1"),
        ("reference", "r" * 65),
        ("scope", "two\nlines"),
        ("scope", "<script>"),
        ("tenant_id", "../etc"),
    ],
)
def test_inputs_outside_their_pattern_are_refused(
    register: LegalRequests, site: Tenant, field: str, value: str
) -> None:
    fields = {"authority": "Court", "reference": "A-1", "scope": "issue records", "tenant_id": site.id}
    with pytest.raises(LegalRequestRefused):
        register.record(gag=False, **(fields | {field: value}))
    assert register.records() == []
