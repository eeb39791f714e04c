"""The claim registry: each package that keeps a promise declares its claims, the statement places every one of them
exactly once in reading order, imports them (never the reverse), and no check builds a database or a keyring of its
own to prove what it claims."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from tests.statement.example import mailer_app

import pledge
from pledge import logs_claims, settings_claims
from pledge.backup import claims as backup_claims
from pledge.cli.jobs import job_runner
from pledge.egress import claims as egress_claims
from pledge.forge import claims as forge_claims
from pledge.jobs import Outcome as JobOutcome
from pledge.legal import claims as legal_claims
from pledge.reporting import claims as reporting_claims
from pledge.retention import claims as retention_claims
from pledge.runtime import Runtime
from pledge.statement import verifier_claims
from pledge.statement.claims import BULLETS, CLAIMS, STATEMENT_ORDER, Claim, Evidence, Section, in_order
from pledge.statement.facts import Deployment, gather
from pledge.statement.verify import Outcome, verify
from pledge.store import claims as store_claims
from pledge.tenants import TenantState
from pledge.tenants import claims as tenants_claims
from pledge.transport import claims as transport_claims

SOURCE = Path(pledge.__file__).parent
PACKAGE_CLAIMS = (
    *tenants_claims.CLAIMS,
    *forge_claims.CLAIMS,
    *store_claims.CLAIMS,
    *settings_claims.CLAIMS,
    *transport_claims.CLAIMS,
    *logs_claims.CLAIMS,
    *egress_claims.CLAIMS,
    *backup_claims.CLAIMS,
    *retention_claims.CLAIMS,
    *reporting_claims.CLAIMS,
    *legal_claims.CLAIMS,
    verifier_claims.UNINSTALL_ENDS_ACCOUNT,
    verifier_claims.SIGNED_REQUESTS,
)


def _claim(claim_id: str) -> Claim[object, object]:
    return Claim(claim_id, "S1", Section.STORAGE, f"{claim_id}.")


def test_every_claim_a_package_declares_is_in_the_statement_once_in_reading_order() -> None:
    assert [bullet.id for bullet in BULLETS] == list(STATEMENT_ORDER)
    assert [claim.id for claim in CLAIMS] == [bullet.id for bullet in BULLETS if isinstance(bullet, Claim)]
    assert all(any(claim is placed for placed in CLAIMS) for claim in PACKAGE_CLAIMS)
    assert all(claim.provided for claim in PACKAGE_CLAIMS)
    assert [claim.id for claim in CLAIMS if claim.provided] == [
        claim_id for claim_id in STATEMENT_ORDER if claim_id in {claim.id for claim in PACKAGE_CLAIMS}
    ]


def test_the_order_must_place_every_claim_exactly_once() -> None:
    a, b = _claim("a"), _claim("b")
    assert in_order(["b", "a"], [a, b]) == (b, a)
    with pytest.raises(ValueError, match=r"unplaced \['b'\], unknown \[\]"):
        in_order(["a"], [a, b])
    with pytest.raises(ValueError, match=r"unplaced \[\], unknown \['c'\]"):
        in_order(["a", "b", "c"], [a, b])
    with pytest.raises(ValueError, match="two claims have the id 'a'"):
        in_order(["a"], [a, _claim("a")])


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module(path: Path) -> str:
    return ".".join(("pledge", *path.relative_to(SOURCE).with_suffix("").parts)).removesuffix(".__init__")


def test_the_statement_imports_the_packages_that_keep_its_promises_never_the_reverse() -> None:
    importers = {
        _module(path)
        for path in SOURCE.rglob("*.py")
        if any(name == "pledge.statement" or name.startswith("pledge.statement.") for name in _imports(path))
    }
    assert {name for name in importers if not name.startswith(("pledge.statement", "pledge.cli"))} == set()
    promises = _imports(SOURCE / "promises.py")
    assert {name for name in promises if name.startswith("pledge")} == set()


def test_verification_builds_no_database_and_no_keyring_of_its_own(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy

    import pledge.db
    import pledge.vault

    app = mailer_app()
    acme = runtime.tenants.create(
        app_key=app.key, client_key="acme", base_url="https://acme.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(acme.id, "shared-secret-of-acme-0123456789")
    runtime.store_for(app, acme).create("rules", {"jql": "project = OPS", "recipient": "ann@example.com"})
    runtime.tenants.transition(acme.id, TenantState.UNINSTALLED)
    deployment = Deployment.of(runtime, [app])
    for job in ("backup", "backup-restore-drill"):  # their claims read the target and the drill's history
        assert job_runner(runtime).run_now(job).outcome is JobOutcome.SUCCEEDED

    def built(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a check built a database or a keyring")

    for module, name in ((sqlalchemy, "create_engine"), (pledge.db, "open_engine")):
        monkeypatch.setattr(module, name, built)
    monkeypatch.setattr(pledge.vault.Vault, "__init__", built)
    monkeypatch.setattr(pledge.vault.LocalKeyring, "__init__", built)
    verification = asyncio.run(verify(deployment, gather(runtime.settings, [app]), version_id=None))
    failed = {result.claim_id: result.evidence for result in verification.results if result.outcome is Outcome.FAILED}
    assert failed["https-only"] == "development mode: plain HTTP is served at http://127.0.0.1:8000"
    # What fails besides (no hosting provider declared; on SQLite, the keyring on the database's filesystem) fails
    # on its evidence: no check stumbled on the constructors disabled above.
    assert not [evidence for evidence in failed.values() if evidence.startswith("the check could not run")]


def test_a_log_redaction_that_lets_a_probe_value_through_fails_its_claim(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = Deployment.of(runtime, [])
    facts = gather(runtime.settings, [])
    claim = logs_claims.LOGS_REDACTED
    assert asyncio.run(verify(deployment, facts, version_id=None, claims=(claim,))).passed
    monkeypatch.setattr(logs_claims, "redact", lambda text: text.replace("probe-shared-secret", "[redacted]"))
    result = asyncio.run(verify(deployment, facts, version_id=None, claims=(claim,))).results[0]
    assert (result.outcome, result.evidence) == (Outcome.FAILED, "the log redaction let 3 probe values through")


def test_a_check_may_be_a_coroutine_and_verification_awaits_it(runtime: Runtime) -> None:
    async def probed(_deployment: Deployment, _facts: object) -> Evidence:
        await asyncio.sleep(0)
        return Evidence(False, "the probe was served")

    async def refused(_deployment: Deployment, _facts: object) -> Evidence:
        raise RuntimeError("the probe could not be sent")

    claims = (
        Claim("probed", "S6", Section.REMOVAL, "Probed.", probed),
        Claim("refused", "S6", Section.REMOVAL, "Refused.", refused),
    )
    verification = asyncio.run(
        verify(Deployment.of(runtime, []), gather(runtime.settings, []), version_id=None, claims=claims)
    )
    assert [(result.outcome, result.evidence) for result in verification.results] == [
        (Outcome.FAILED, "the probe was served"),
        (Outcome.FAILED, "the check could not run: the probe could not be sent"),
    ]
