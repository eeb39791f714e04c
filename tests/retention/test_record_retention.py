"""Issue #17 item 7: records older than their collection's declared retention are deleted by the
``record-retention`` job; the statement's check finds any that are left (both engines, a moved clock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from pledge.app import App
from pledge.clock import FrozenClock
from pledge.jobs import JobRunner
from pledge.retention import RETENTION_JOB
from pledge.retention.claims import check_record_retention
from pledge.retention.record_retention import RETENTION_ALLOWANCE
from pledge.runtime import Runtime
from pledge.statement.facts import Deployment
from pledge.store.tables import records_table
from pledge.tenants import Tenant


def _ids(runtime: Runtime) -> set[str]:
    with runtime.engine.connect() as connection:
        return set(connection.execute(select(records_table.c.id)).scalars())


def test_records_past_their_retention_are_deleted_and_the_rest_kept(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, mailer: App, site: Tenant, other_site: Tenant
) -> None:
    store, other = runtime.store_for(mailer, site), runtime.store_for(mailer, other_site)
    old = {store.create("mail_log", {"issue": "SIM-1"}).id, other.create("mail_log", {"issue": "SIM-2"}).id}
    rule = store.create("rules", {"project": "SIM", "body": "kept until the site is purged"}).id
    clock.advance(timedelta(days=60))
    young = store.create("mail_log", {"issue": "SIM-3"}).id
    store.update("mail_log", next(iter(old & {r.id for r in store.list("mail_log")})), {"issue": "SIM-9"})
    clock.advance(timedelta(days=30, hours=1))  # the first ones are 90 days and an hour old: updating one made it
    # no younger

    deployment = Deployment.of(runtime, [mailer])
    evidence = check_record_retention(deployment, object())
    assert evidence.passed  # past 90 days, but within the job's allowance

    clock.advance(RETENTION_ALLOWANCE)
    evidence = check_record_retention(deployment, object())
    assert not evidence.passed and "2 records in mailer.mail_log" in evidence.detail

    assert jobs.run_now(RETENTION_JOB).outcome == "succeeded"
    assert _ids(runtime) == {rule, young}
    assert check_record_retention(deployment, object()).passed


def test_without_a_declared_retention_nothing_is_deleted(runtime: Runtime, clock: FrozenClock, site: Tenant) -> None:
    app = App(key="mailer", name="Mailer")
    assert check_record_retention(Deployment.of(runtime, [app]), object()).detail.startswith("no served app")
