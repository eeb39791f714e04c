"""Issue #17 items 1 and 2: uninstalled → grace (30 days) → purged, re-install within the grace keeps everything,
an ended Forge licence starts the grace too; the purge deletes every row, destroys the keys and writes the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.retention.conftest import GRACE, install

from pledge.app import App
from pledge.clock import FrozenClock
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB
from pledge.runtime import Runtime
from pledge.store.tables import records_table
from pledge.tenants import Tenant, TenantNotFound, TenantState
from pledge.tenants.shred_ledger import ShredCause, ledger, shredded_tenants
from pledge.tenants.timeline import DeletionCause, Event
from pledge.vault import KeyShredded


def _records_of(runtime: Runtime, tenant: Tenant) -> int:
    with runtime.engine.connect() as connection:
        query = select(func.count()).select_from(records_table).where(records_table.c.tenant_id == tenant.id)
        return int(connection.execute(query).scalar_one())


def _write(runtime: Runtime, app: App, tenant: Tenant) -> str:
    store = runtime.store_for(app, tenant)
    store.create("mail_log", {"issue": "SIM-1"})
    return store.create("rules", {"project": "SIM", "body": "Hello"}).id


def _purged(runtime: Runtime, tenant: Tenant) -> None:
    """Nothing of the tenant is left but its shred ledger row."""
    with pytest.raises(TenantNotFound):
        runtime.tenants.get(tenant.id)
    assert _records_of(runtime, tenant) == 0
    assert all(rows == [] for rows in runtime.tenant_data.export(tenant.id)["parts"].values())
    assert runtime.vault.is_shredded(tenant.id) and not runtime.vault.has_keys(tenant.id)
    with pytest.raises(KeyShredded):
        runtime.vault.key_version(tenant.id)  # it never gets a key again
    with runtime.engine.connect() as connection:
        assert tenant.id in shredded_tenants(connection)


def test_the_grace_runs_thirty_days_then_the_purge_deletes_everything(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, mailer: App, site: Tenant, other_site: Tenant
) -> None:
    _write(runtime, mailer, site)
    kept = _write(runtime, mailer, other_site)
    uninstalled_at = clock.now()
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)

    clock.advance(GRACE - timedelta(minutes=1))
    assert jobs.run_now(PURGE_JOB).outcome == "succeeded"
    assert runtime.tenants.get(site.id).state is TenantState.UNINSTALLED and _records_of(runtime, site) == 2

    clock.advance(timedelta(minutes=2))
    purged_at = clock.now()
    assert jobs.run_now(PURGE_JOB).outcome == "succeeded"
    _purged(runtime, site)
    with runtime.engine.connect() as connection:
        [entry] = ledger(connection)
    assert (entry.tenant_id, entry.cause, entry.reason) == (site.id, ShredCause.GRACE, None)
    assert entry.due_at == uninstalled_at + GRACE and entry.started_at == entry.purged_at == purged_at

    assert runtime.store_for(mailer, other_site).get("rules", kept)["body"] == "Hello"
    assert runtime.tenants.shared_secret(other_site.id) == "secret-of-site-b"

    clock.advance(timedelta(hours=2))
    assert jobs.run_now(PURGE_JOB).outcome == "succeeded"  # nothing left to do: one ledger row still
    with runtime.engine.connect() as connection:
        assert len(ledger(connection)) == 1


def test_reinstalling_within_the_grace_keeps_the_data_and_ends_the_grace(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, mailer: App, site: Tenant
) -> None:
    record = _write(runtime, mailer, site)
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)
    clock.advance(GRACE - timedelta(days=1))
    runtime.tenants.transition(site.id, TenantState.INSTALLED)
    clock.advance(timedelta(days=5))
    jobs.run_now(PURGE_JOB)
    assert runtime.store_for(mailer, site).get("rules", record)["project"] == "SIM"
    assert [step.event for step in runtime.tenants.timeline(site.id)] == [
        Event.INSTALLED,
        Event.UNINSTALLED,
        Event.REINSTALLED,
    ]


def test_an_ended_licence_starts_the_grace_and_an_active_one_ends_it(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, mailer: App, site: Tenant, other_site: Tenant
) -> None:
    _write(runtime, mailer, site)
    _write(runtime, mailer, other_site)
    runtime.tenants.licence_changed(site.id, active=False)
    runtime.tenants.licence_changed(other_site.id, active=False)
    clock.advance(timedelta(days=10))
    runtime.tenants.licence_changed(other_site.id, active=True)
    clock.advance(GRACE)
    jobs.run_now(PURGE_JOB)
    _purged(runtime, site)
    assert _records_of(runtime, other_site) == 2
    assert [step.event for step in runtime.tenants.timeline(other_site.id)] == [
        Event.INSTALLED,
        Event.LICENCE_ENDED,
        Event.LICENCE_ACTIVE,
    ]


def test_uninstalling_after_the_licence_ended_keeps_the_site_a_full_grace_after_the_uninstall(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, site: Tenant
) -> None:
    runtime.tenants.licence_changed(site.id, active=False)
    clock.advance(GRACE - timedelta(days=1))
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)
    clock.advance(timedelta(days=2))
    jobs.run_now(PURGE_JOB)
    assert runtime.tenants.get(site.id).state is TenantState.UNINSTALLED


def test_a_deletion_asked_for_is_refused_service_at_once_and_purged_by_the_next_run(
    runtime: Runtime, jobs: JobRunner, mailer: App, site: Tenant
) -> None:
    _write(runtime, mailer, site)
    deleting = runtime.tenants.request_deletion(site.id, DeletionCause.OPERATOR, "ticket OPS-12")
    assert deleting.state is TenantState.DELETING and not deleting.is_active
    jobs.run_now(PURGE_JOB)
    _purged(runtime, site)
    with runtime.engine.connect() as connection:
        [entry] = ledger(connection)
    assert (entry.cause, entry.reason) == (ShredCause.OPERATOR, "ticket OPS-12")


def test_a_purged_site_that_installs_again_is_a_new_tenant(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, site: Tenant
) -> None:
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)
    clock.advance(GRACE + timedelta(hours=1))
    jobs.run_now(PURGE_JOB)
    again = install(runtime, "site-a")
    assert again.id != site.id and runtime.tenants.by_client_key("mailer", "site-a").id == again.id
