"""Issue #17 item 8: the deletion claim reads the live database: a site past its grace that is still not purged
fails verification on the running deployment; the purge makes it pass again."""

from __future__ import annotations

from datetime import timedelta

from tests.retention.conftest import GRACE
from tests.statement.example import verified

from pledge.app import App
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB
from pledge.retention.claims import PURGE_AFTER_GRACE, check_purge_lag
from pledge.retention.purge import PURGE_ALLOWANCE
from pledge.runtime import Runtime
from pledge.statement.claims import CLAIMS
from pledge.statement.facts import Deployment, gather
from pledge.statement.marketplace import answers
from pledge.tenants import Tenant, TenantState


def test_a_site_past_its_grace_and_not_purged_fails_verification(
    runtime: Runtime, clock: FrozenClock, jobs: JobRunner, mailer: App, site: Tenant
) -> None:
    deployment, facts = Deployment.of(runtime, [mailer]), gather(runtime.settings, [mailer])
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)
    clock.advance(GRACE + PURGE_ALLOWANCE)
    evidence = check_purge_lag(deployment, facts)
    assert evidence.passed and evidence.detail.startswith("purge lag 0 s")  # late, but within the job's hour

    clock.advance(timedelta(minutes=5))
    evidence = check_purge_lag(deployment, facts)
    assert not evidence.passed and evidence.detail.startswith("purge lag 300 s")

    jobs.run_now(PURGE_JOB)
    evidence = check_purge_lag(deployment, facts)
    assert evidence.passed and "1 site purged so far" in evidence.detail


def test_a_deployment_keeping_sites_for_less_than_it_states_fails(runtime: Runtime, mailer: App) -> None:
    stated = gather(load_settings(deletion_grace_days=60), [mailer])
    evidence = check_purge_lag(Deployment.of(runtime, [mailer]), stated)
    assert not evidence.passed and "says 60 days, the setting is 30" in evidence.detail


def test_the_statement_takes_its_deletion_claims_from_the_retention_package() -> None:
    by_id = {claim.id: claim for claim in CLAIMS}
    assert by_id["purge-after-grace"] is PURGE_AFTER_GRACE
    assert by_id["purge-after-grace"].provided and by_id["record-retention"].provided
    facts = gather(load_settings(), [])
    assert answers(facts, verified(facts))["pledge"]["daysKeptAfterUninstall"] == 30
    assert answers(facts, verified(facts, failed=["purge-after-grace"]))["pledge"]["daysKeptAfterUninstall"] is None
