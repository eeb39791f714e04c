"""The claims the store, Connect and the egress client made true: each passes on live evidence and fails when reality
contradicts it (undeclared or personal data stored, a payload that is not its site's ciphertext, an uninstalled
site still served, an outbound destination nobody stated)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import text, update
from tests.statement.example import mailer_app

from pledge.app import App
from pledge.egress import OutboundClient
from pledge.runtime import Runtime
from pledge.statement.claims import CLAIMS
from pledge.statement.facts import Deployment, gather
from pledge.statement.verify import ClaimResult, Outcome, verify
from pledge.store import Category, Collection, DataManifest, Field
from pledge.store.tables import records_table
from pledge.tenants import Tenant, TenantState

GUARD_REFUSED = (
    "the store's write guard refused an undeclared collection, an undeclared field and an e-mail address in a "
    "content field"
)
ENFORCED = ("undeclared-data-refused", "app-data-encrypted", "uninstall-ends-account", "egress-allowlist")


def _result(deployment: Deployment, claim_id: str) -> ClaimResult:
    verification = asyncio.run(verify(deployment, gather(deployment.settings, deployment.apps), version_id=None))
    return next(result for result in verification.results if result.claim_id == claim_id)


def _outcome(deployment: Deployment, claim_id: str) -> tuple[Outcome, str]:
    result = _result(deployment, claim_id)
    return result.outcome, result.evidence


def _site(runtime: Runtime, client_key: str, app_key: str = "issue-mailer") -> Tenant:
    tenant = runtime.tenants.create(
        app_key=app_key, client_key=client_key, base_url=f"https://{client_key}.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(tenant.id, f"shared-secret-of-{client_key}-0123456789")
    return tenant


def _redeclared(*collections: Collection) -> App:
    """The mailer app as a later version of it declares its data."""
    return App(key="issue-mailer", name="Issue Mailer", data=DataManifest(collections))


RULES = Collection(
    "rules",
    "Which issues to e-mail, and to whom",
    (
        Field("jql", Category.CONFIGURATION, "Selects the issues a rule sends"),
        Field("recipient", Category.PERSONAL, "Where the rule sends mail"),
    ),
)


def test_the_enforced_claims_are_provided_and_hold_on_a_clean_deployment(runtime: Runtime) -> None:
    assert all(claim.provided for claim in CLAIMS if claim.id in ENFORCED)
    app = mailer_app()
    store = runtime.store_for(app, _site(runtime, "acme"))
    store.create("rules", {"jql": "project = OPS", "recipient": "ann@example.com"})
    store.create("smtp", {"password": "hunter2-but-longer"})
    runtime.tenants.transition(_site(runtime, "gone").id, TenantState.UNINSTALLED)
    deployment = Deployment.of(runtime, [app])

    assert _outcome(deployment, "undeclared-data-refused") == (
        Outcome.PASSED,
        f"{GUARD_REFUSED}; no records in undeclared collections; 2 sampled records of 1 site: every stored field "
        "declared, no personal data outside the 1 field declared personal data",
    )
    assert _outcome(deployment, "app-data-encrypted") == (
        Outcome.PASSED,
        "store_records has no column besides ids, times, revision, key version, blind-index digests and ciphertext; "
        "2 sampled records of 1 site: each opened under its own site's data key, bound to its collection and id",
    )
    assert _outcome(deployment, "uninstall-ends-account") == (
        Outcome.PASSED,
        "uninstalled sites: 1 Connect probe (a request signed with the site's own shared secret); each refused "
        "(tenant_inactive)",
    )
    assert _outcome(deployment, "egress-allowlist") == (
        Outcome.PASSED,
        "the outbound client allows https://api.atlassian.com, https://connect-install-keys.atlassian.com, "
        "https://forge.cdn.prod.atlassian-dev.net and, per call, the calling site; a probe to "
        "https://egress-probe.invalid was refused; 0 refusals counted by the deployment's instances",
    )


def test_a_store_guard_that_lets_personal_data_through_fails_the_enforcement_claim(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pledge.store.tenant_store

    monkeypatch.setattr(pledge.store.tenant_store, "scan_value", lambda _value: None)
    result = _outcome(Deployment.of(runtime, []), "undeclared-data-refused")
    assert result == (Outcome.FAILED, "the store did not refuse an e-mail address in a content field")


def test_records_in_a_collection_no_longer_declared_fail_the_enforcement_claim(runtime: Runtime) -> None:
    store = runtime.store_for(mailer_app(), _site(runtime, "acme"))
    store.create("smtp", {"password": "hunter2-but-longer"})
    store.create("rules", {"jql": "project = OPS"})

    result = _outcome(Deployment.of(runtime, [_redeclared(RULES)]), "undeclared-data-refused")
    assert result == (Outcome.FAILED, "issue-mailer: 1 record in undeclared collection smtp")


def test_a_stored_field_no_longer_declared_is_found_by_the_sampled_scan(runtime: Runtime) -> None:
    store = runtime.store_for(mailer_app(), _site(runtime, "acme"))
    store.create("rules", {"jql": "project = OPS", "recipient": "ann@example.com"})
    without_recipient = dataclasses.replace(RULES, fields=RULES.fields[:1])

    result = _outcome(Deployment.of(runtime, [_redeclared(without_recipient)]), "undeclared-data-refused")
    assert result == (Outcome.FAILED, "issue-mailer: rules.recipient is stored but not declared in 1 sampled record")


def test_personal_data_in_a_field_not_declared_personal_is_found_by_the_sampled_scan(runtime: Runtime) -> None:
    app = mailer_app()
    for site in ("acme", "globex"):
        runtime.store_for(app, _site(runtime, site)).create(
            "rules", {"jql": "project = OPS", "recipient": f"ops@{site}.example.com"}
        )
    reclassified = dataclasses.replace(
        RULES, fields=(RULES.fields[0], Field("recipient", Category.CONFIGURATION, "Where the rule sends mail"))
    )

    outcome, evidence = _outcome(Deployment.of(runtime, [_redeclared(reclassified)]), "undeclared-data-refused")
    assert outcome is Outcome.FAILED
    assert evidence == (
        "issue-mailer: rules.recipient (configuration) holds what looks like personal data (email) in 2 sampled records"
    )
    assert "example.com" not in evidence


def test_a_payload_that_is_not_its_own_sites_ciphertext_fails_the_encryption_claim(runtime: Runtime) -> None:
    app = mailer_app()
    acme = runtime.store_for(app, _site(runtime, "acme")).create("rules", {"jql": "project = ACME"})
    globex_store = runtime.store_for(app, _site(runtime, "globex"))
    globex = globex_store.create("rules", {"jql": "project = GLOBEX"})
    globex_store.create("rules", {"jql": "project = OPS"})
    deployment = Deployment.of(runtime, [app])
    assert _result(deployment, "app-data-encrypted").outcome is Outcome.PASSED

    records = records_table.c
    with runtime.engine.begin() as connection:  # a valid ciphertext, but of another site's record
        payload = connection.execute(records_table.select().where(records.id == acme.id)).one().payload
        connection.execute(update(records_table).where(records.id == globex.id).values(payload=payload))
    moved = _outcome(deployment, "app-data-encrypted")  # each verification run takes its own sample
    assert moved == (
        Outcome.FAILED,
        "issue-mailer/rules: 1 of 3 sampled records not a ciphertext of its own site, collection and id",
    )

    with runtime.engine.begin() as connection:  # written around the store, in clear
        connection.execute(update(records_table).where(records.id == acme.id).values(payload=b'{"jql":"x"}'))
    assert _outcome(Deployment.of(runtime, [app]), "app-data-encrypted")[1] == (
        "issue-mailer/rules: 2 of 3 sampled records not a ciphertext of its own site, collection and id"
    )


def test_a_clear_text_column_beside_the_ciphertext_fails_the_encryption_claim(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text("ALTER TABLE store_records ADD COLUMN summary VARCHAR(200)"))
    result = _outcome(Deployment.of(runtime, [mailer_app()]), "app-data-encrypted")
    assert result == (Outcome.FAILED, "the store_records table also has the columns: summary")


def test_records_of_a_crypto_shredded_site_are_unreadable_and_do_not_break_the_claims(runtime: Runtime) -> None:
    app = mailer_app()
    gone = _site(runtime, "gone")
    runtime.store_for(app, gone).create("rules", {"jql": "project = OPS"})
    runtime.vault.shred(gone.id)
    deployment = Deployment.of(runtime, [app])

    encrypted = _outcome(deployment, "app-data-encrypted")
    assert encrypted[0] is Outcome.PASSED
    assert encrypted[1].endswith("; 1 record of crypto-shredded sites unreadable")
    declared = _outcome(deployment, "undeclared-data-refused")
    assert declared[0] is Outcome.PASSED
    assert declared[1].endswith("; 1 could not be opened (see app-data-encrypted)")


def test_an_uninstalled_site_still_served_fails_the_uninstall_claim(runtime: Runtime) -> None:
    app = mailer_app()
    deployment = Deployment.of(runtime, [app])
    acme = _site(runtime, "acme")
    assert _outcome(deployment, "uninstall-ends-account") == (
        Outcome.PASSED,
        "no site is uninstalled: nothing to probe",
    )

    # Another server instance handles the uninstall: this one still holds the site, active, in its tenant cache.
    assert runtime.connect_tenants.load(app.key, "acme") is not None
    runtime.tenants.transition(acme.id, TenantState.UNINSTALLED)
    assert _outcome(deployment, "uninstall-ends-account") == (
        Outcome.FAILED,
        "issue-mailer: 1 of 1 probe of uninstalled sites served",
    )

    runtime.connect_tenants.forget(app.key, "acme")  # what the lifecycle handler does on this instance
    assert _result(deployment, "uninstall-ends-account").outcome is Outcome.PASSED


def test_the_uninstall_probe_runs_when_verification_is_awaited_inside_an_event_loop(runtime: Runtime) -> None:
    app = mailer_app()
    runtime.tenants.transition(_site(runtime, "acme").id, TenantState.UNINSTALLED)
    deployment = Deployment.of(runtime, [app])

    async def verify_from_a_handler() -> ClaimResult:
        verification = await verify(deployment, gather(deployment.settings, deployment.apps), version_id=None)
        return next(result for result in verification.results if result.claim_id == "uninstall-ends-account")

    assert asyncio.run(verify_from_a_handler()).outcome is Outcome.PASSED


def test_an_outbound_destination_nobody_stated_fails_the_egress_claim(runtime: Runtime) -> None:
    settings = runtime.settings
    widened = OutboundClient(
        [settings.connect_install_keys_url, settings.atlassian_api_url, "https://tracker.example.com"]
    )
    result = _outcome(Deployment.of(dataclasses.replace(runtime, egress=widened), []), "egress-allowlist")
    assert result == (Outcome.FAILED, "the outbound client also allows https://tracker.example.com")
