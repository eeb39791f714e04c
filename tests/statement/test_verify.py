"""Verification: each claim checked on live evidence; a loosened keyring, a tenant elsewhere, or a claim nobody
checks fails the statement."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.requests import Request
from tests.statement.example import deployment_with, mailer_app

from pledge import schema
from pledge.app import Auth, Identity
from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.db import open_engine
from pledge.runtime import Runtime
from pledge.statement.claims import CLAIMS, Claim, Evidence, Section
from pledge.statement.facts import Deployment, gather
from pledge.statement.publish import publish
from pledge.statement.verify import ClaimResult, Outcome, Verification, VerificationLog, verify
from pledge.tenants import claims as tenants_claims
from pledge.trust.identity import Verifier


def _result(verification: Verification, claim_id: str) -> ClaimResult:
    return next(result for result in verification.results if result.claim_id == claim_id)


def _verify(deployment: Deployment) -> Verification:
    return asyncio.run(verify(deployment, gather(deployment.settings, deployment.apps), version_id=None))


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_keyring_beside_the_database_is_said_so_and_one_readable_by_others_fails(
    tmp_path: Path, clock: FrozenClock
) -> None:
    (tmp_path / "beside").mkdir()
    settings = load_settings(data_dir=tmp_path / "beside")  # the defaults: database and keyring in the data dir
    engine = open_engine(settings.resolved_database_url)
    schema.upgrade(engine)
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    try:
        deployment = Deployment.of(runtime, [])
        keyring = settings.resolved_keyring_path
        result = _result(_verify(deployment), "keyring-private")
        assert (result.outcome, result.evidence) == (
            Outcome.PASSED,
            f"{keyring} has mode 0600; beside the database file, as stated",
        )
        assert "a copy of that directory holds both the keys and the data" in result.text

        keyring.chmod(0o644)
        result = _result(_verify(deployment), "keyring-private")
        assert result.outcome is Outcome.FAILED
        assert result.evidence == f"{keyring} has mode 0644, readable by others: run `chmod 600 {keyring}`"
    finally:
        runtime.close()
        engine.dispose()


@SQLITE_ONLY
def test_a_keyring_said_apart_but_on_the_databases_filesystem_fails_its_claim(runtime: Runtime) -> None:
    # The keyring is in the data dir, the database file elsewhere: the statement says apart, the disk is one.
    result = _result(_verify(Deployment.of(runtime, [])), "keyring-private")
    assert "The keyring is kept apart from the data" in result.text
    assert result.outcome is Outcome.FAILED
    assert result.evidence.startswith("the keyring and the database file ")
    assert result.evidence.endswith("pledge.db are on one filesystem")


def test_a_tenant_hosted_outside_the_stated_region_fails_the_region_claim(
    runtime: Runtime, settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    runtime.tenants.create(app_key="a", client_key="ck", base_url="https://a.atlassian.net", product_type="jira")
    same = _result(_verify(deployment_with(settings, engine, clock, hosting_provider="aws")), "hosting-region")
    assert same.outcome is Outcome.PASSED
    assert same.evidence.endswith(
        "1 tenant, all recorded in us-east-1; provider declared as Amazon Web Services (AWS) (not probed)"
    )

    west = deployment_with(settings, engine, clock, region="us-west-2", hosting_provider="aws")
    moved = _result(_verify(west), "hosting-region")
    assert (moved.outcome, moved.evidence) == (
        Outcome.FAILED,
        "the statement says us-west-2, but 1 tenant in us-east-1",
    )


def test_an_undeclared_hosting_provider_fails_the_region_claim(runtime: Runtime) -> None:
    result = _result(_verify(Deployment.of(runtime, [])), "hosting-region")
    assert (result.outcome, result.evidence) == (
        Outcome.FAILED,
        "no hosting provider is declared: set PLEDGE_HOSTING_PROVIDER",
    )


def test_https_is_verified_by_probing_the_public_address(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    development = _result(_verify(deployment_with(settings, engine, clock)), "https-only")
    assert development.outcome is Outcome.FAILED
    assert development.evidence == "development mode: plain HTTP is served at http://127.0.0.1:8000"

    # An https base URL is no longer enough: nothing answers HTTPS there.
    nothing = deployment_with(settings, engine, clock, dev_mode=False, base_url="https://127.0.0.1:9")
    result = _result(_verify(nothing), "https-only")
    assert result.outcome is Outcome.FAILED
    assert "certificate: no TLS at 127.0.0.1:9: Connection refused" in result.evidence


def test_a_new_column_about_a_site_breaks_the_site_identity_claim(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = Deployment.of(runtime, [])
    assert _result(_verify(deployment), "site-identity-only").outcome is Outcome.PASSED
    monkeypatch.setattr(tenants_claims, "stored_fields", lambda: ("id", "client_key", "installer_account_id"))
    result = _result(_verify(deployment), "site-identity-only")
    assert (result.outcome, result.evidence) == (
        Outcome.FAILED,
        "the tenant registry also stores: installer_account_id",
    )


def test_an_app_without_a_manifest_fails_the_declaration_claim(runtime: Runtime) -> None:
    class Bare:
        key = "bare"

    declared = _result(_verify(Deployment.of(runtime, [mailer_app()])), "data-declared")
    assert declared.outcome is Outcome.PASSED
    assert declared.evidence == "1 app, 3 collections, 4 fields declared (1 personal data, 1 secret)"
    undeclared = _result(_verify(Deployment.of(runtime, [Bare()])), "data-declared")
    assert (undeclared.outcome, undeclared.evidence) == (Outcome.FAILED, "served without a data manifest: bare")


def test_signed_requests_needs_a_verifier_for_every_authenticated_route(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pledge.serving

    async def verifier(_request: Request) -> Identity:
        raise AssertionError("never called")

    def with_verifiers(kinds: Mapping[Auth, Verifier]) -> None:
        monkeypatch.setattr(pledge.serving, "verifiers_for", lambda app, runtime: dict(kinds))

    deployment = Deployment.of(runtime, [mailer_app()])
    with_verifiers({})
    missing = _result(_verify(deployment), "signed-requests")
    assert (missing.outcome, missing.evidence) == (
        Outcome.FAILED,
        "issue-mailer: no verifier for connect-context routes",
    )
    with_verifiers({Auth.CONNECT_CONTEXT: verifier})
    substituted = _result(_verify(deployment), "signed-requests")
    assert (substituted.outcome, substituted.evidence) == (
        Outcome.FAILED,
        "issue-mailer: connect-context routes are not verified as the statement says",
    )
    monkeypatch.undo()
    served = _result(_verify(deployment), "signed-requests")
    assert served.outcome is Outcome.PASSED
    assert served.evidence.startswith("issue-mailer: 1 connect-context, 1 public")


def test_without_a_runtime_the_checks_that_need_it_fail_with_the_reason(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    deployment = Deployment(settings, engine, clock, (mailer_app(),), runtime_error="keyring is too open")
    result = _result(_verify(deployment), "signed-requests")
    assert result.outcome is Outcome.FAILED
    assert result.evidence == "the check could not run: the runtime could not start: keyring is too open"


def test_a_claim_without_a_check_or_whose_check_breaks_fails_the_run(runtime: Runtime) -> None:
    def holds(_deployment: Deployment, _facts: object) -> Evidence:
        return Evidence(True, "it holds")

    def breaks(_deployment: Deployment, _facts: object) -> Evidence:
        raise RuntimeError("token=abc123 leaked into an error")

    deployment = Deployment.of(runtime, [])
    facts = gather(runtime.settings, [])
    good = Claim("good", "S1", Section.STORAGE, "Good.", holds)
    assert asyncio.run(verify(deployment, facts, version_id=None, claims=(good,))).passed

    unchecked = Claim("unchecked", "S5", Section.BACKUP, "Backups.")
    broken = Claim("broken", "S1", Section.STORAGE, "Broken.", breaks)
    verification = asyncio.run(verify(deployment, facts, version_id=None, claims=(good, unchecked, broken)))
    assert not verification.passed
    assert [r.outcome for r in verification.results] == [Outcome.PASSED, Outcome.MISSING, Outcome.FAILED]
    assert verification.results[2].evidence == "the check could not run: token=[redacted] leaked into an error"
    assert verification.summary() == "failed: 1 of 3 claims hold, 1 failed, 1 not yet provided"


def test_today_every_unbuilt_promise_is_reported_missing(runtime: Runtime) -> None:
    verification = _verify(Deployment.of(runtime, []))
    missing = {result.claim_id for result in verification.results if result.outcome is Outcome.MISSING}
    assert missing == {claim.id for claim in CLAIMS if not claim.provided}
    assert {"staff-audit", "export", "sub-processors"} <= missing
    assert not verification.passed


def test_runs_are_recorded_with_the_version_they_verified(runtime: Runtime, clock: FrozenClock) -> None:
    deployment = Deployment.of(runtime, [])
    log = VerificationLog(runtime.engine)
    assert log.latest() is None
    verification = asyncio.run(publish(deployment)).verification
    assert log.latest() == verification
    assert verification.version_id == 1 and verification.verified_at == clock.now()
