"""Marketplace "Privacy & Security" answers in Atlassian's field names: derived from the statement's facts and the
verification it was published with, never saying more than it does, every unknown said to be unknown."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

from starlette.testclient import TestClient
from tests.statement.example import mailer_app, verified

from pledge.app import App
from pledge.config import load_settings
from pledge.egress.sub_processors import SubProcessor
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.statement.claims import CLAIMS
from pledge.statement.facts import Facts, gather
from pledge.statement.marketplace import SOURCE, answers
from pledge.statement.render import render_app

# Every name the v2 app trust information documents (SOURCE), by group: nothing else may appear.
ATLASSIAN_FIELDS = {
    "dataAccessAndStorage": {
        "isSameDataProcessedAndStored",
        "appProcessEUDOutsideAtlassian",
        "typesOfDataAccessed",
        "appStoresEUDOutsideAtlassian",
        "typesOfDataStored",
    },
    "thirdPartyInformation": {"isEndUserDataShared", "dataSubProcessors", "thirdPartyDetails"},
    "logDetails": {
        "logEndUserData",
        "logProcessAndOrStoreEUDOutsideAtlassian",
        "logEUDShareWithThirdParty",
        "logsIntegralForAppFunctionality",
    },
    "dataResidency": {
        "isDataResidencySupported",
        "countriesWhereEndUserDataStored",
        "realmMigrationSupported",
        "inScopeDataTypes",
    },
    "dataRetention": {
        "isDataRetentionSupported",
        "retentionDurationInDays",
        "isCustomRetentionPeriodAllowed",
        "isRetentionDurationIndefinite",
    },
    "privacy": {"privacyEnhancingTechniques", "gdpr", "ccpa", "dataProcessingAgreement"},
    "security": {
        "isDiskEncryptionSupported",
        "securityContact",
        "publicSecurityPoliciesLink",
        "permissionsJustification",
        "requiresUsersToProvidePATs",
    },
}
THIRD_PARTY_FIELDS = {"name", "link", "purpose", "thirdPartyCountries"}
PROVIDED = [claim.id for claim in CLAIMS if claim.provided]


def app_answers(facts: Facts, failed: tuple[str, ...] | list[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    (app,) = answers(facts, verified(facts, failed=failed))["apps"]
    return app["appTrustInformation"], {item["field"]: item["reason"] for item in app["unanswered"]}


def leaves(trust: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, value in trust.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and name not in ("retentionDurationInDays",):
            yield from leaves(value, path + ".")
        else:
            yield path


def test_only_atlassian_names_are_used_and_every_field_is_answered_or_said_unanswered() -> None:
    facts = gather(load_settings(region="us-west-2", hosting_provider="aws"), [mailer_app()])
    result = answers(facts, verified(facts))
    assert result["source"] == SOURCE
    (app,) = result["apps"]
    assert set(app) == {"addonKey", "appTrustInformation", "unanswered"} and app["addonKey"] == "issue-mailer"
    trust = app["appTrustInformation"]
    for group, fields in trust.items():
        assert set(fields) <= ATLASSIAN_FIELDS[group], group
    for detail in trust["thirdPartyInformation"]["thirdPartyDetails"]:
        assert set(detail) <= THIRD_PARTY_FIELDS
    unanswered = {item["field"] for item in app["unanswered"]}
    answered = set(leaves(trust))
    assert not answered & unanswered
    for group, fields in ATLASSIAN_FIELDS.items():
        for name in fields:
            path = f"{group}.{name}"
            covered = {p for p in answered | unanswered if p == path or p.startswith(path + ".")}
            assert covered, f"{path} is neither answered nor listed as unanswered"


def test_the_answers_follow_the_manifest_scopes_and_settings() -> None:
    facts = gather(load_settings(region="us-west-2", hosting_provider="aws"), [mailer_app()])
    trust, unanswered = app_answers(facts)

    storage = trust["dataAccessAndStorage"]
    assert storage["appProcessEUDOutsideAtlassian"] is True and storage["appStoresEUDOutsideAtlassian"] is True
    assert storage["typesOfDataAccessed"] == [
        "Site installation details sent by Atlassian (client key, base URL, shared secret)",
        "Jira data the API scope READ allows the app to read",
    ]
    assert "rules.recipient (personal data): Where the rule sends mail | one address" in storage["typesOfDataStored"]
    assert storage["typesOfDataStored"][0].startswith("Site identity: Connect client key")
    assert trust["thirdPartyInformation"] == {
        "isEndUserDataShared": True,
        "thirdPartyDetails": [
            {
                "name": "Amazon Web Services (AWS)",
                "purpose": "Hosts the service, its database and its backups in the US West (Oregon) region (us-west-2)",
            }
        ],
    }
    assert trust["dataResidency"] == {
        "isDataResidencySupported": "APP_DOES_NOT_SUPPORT_DR",
        "realmMigrationSupported": False,
    }
    assert "rules, smtp kept until the site's account is deleted" in unanswered["dataRetention.retentionDurationInDays"]
    assert "privacy.gdpr" in unanswered and "security.securityContact" in unanswered


def test_types_of_data_accessed_come_from_the_scopes_and_events_the_statement_prints() -> None:
    app = App(key="watcher", name="Watcher", scopes=("WRITE", "READ"))

    @app.webhook("jira:issue_created")
    async def created(_context: object) -> None:
        return None

    facts = gather(load_settings(), [app])
    trust, _ = app_answers(facts)

    assert trust["dataAccessAndStorage"]["typesOfDataAccessed"][1:] == [
        "Jira data the API scope READ allows the app to read",
        "Jira data the API scope WRITE allows the app to read",
        "Jira event jira:issue_created, with the data it carries",
    ]
    section = render_app(facts.apps[0], facts)
    assert (
        "- Reads through the Jira API: what the scopes `READ`, `WRITE` allow; events it receives: "
        "`jira:issue_created`." in section
    )


def test_a_failed_claim_takes_its_answers_away() -> None:
    facts = gather(load_settings(region="us-west-2", hosting_provider="aws"), [mailer_app()])
    trust, unanswered = app_answers(facts, failed=["undeclared-data-refused", "egress-allowlist", "app-data-encrypted"])

    assert "typesOfDataStored" not in trust["dataAccessAndStorage"]
    assert unanswered["dataAccessAndStorage.typesOfDataStored"] == (
        "the list would not be known to be complete: the claim undeclared-data-refused failed verification"
    )
    assert "thirdPartyInformation" not in trust
    assert unanswered["thirdPartyInformation.isEndUserDataShared"] == (
        "where data goes is not proven: the claim egress-allowlist failed verification"
    )
    assert trust["privacy"]["privacyEnhancingTechniques"]["privacyEnhancingTechniquesSupported"] == [
        "Backups are encrypted before they leave the server"
    ]


def test_when_every_provided_claim_fails_only_what_the_apps_declare_is_answered() -> None:
    facts = gather(load_settings(region="us-west-2", hosting_provider="aws"), [mailer_app()])
    trust, _ = app_answers(facts, failed=PROVIDED)
    result = answers(facts, verified(facts, failed=PROVIDED))

    assert set(leaves(trust)) == {
        "dataAccessAndStorage.appProcessEUDOutsideAtlassian",
        "dataAccessAndStorage.typesOfDataAccessed",
        "dataAccessAndStorage.appStoresEUDOutsideAtlassian",
        "dataResidency.isDataResidencySupported",  # not offered: a true negative the statement prints
        "dataResidency.realmMigrationSupported",
    }
    pledge = result["pledge"]
    assert pledge["hosting"] is None and pledge["daysKeptAfterUninstall"] is None
    assert pledge["egressDestinations"] is None and pledge["personalDataFields"] is None
    assert {pledge["claims"][claim_id] for claim_id in PROVIDED} <= {"failed", "not offered"}


def test_an_undeclared_provider_leaves_third_parties_unanswered() -> None:
    facts = gather(load_settings(), [mailer_app()])
    trust, unanswered = app_answers(facts)

    assert "thirdPartyInformation" not in trust
    assert (
        "hosting provider, which holds the data, is not declared"
        in unanswered["thirdPartyInformation.isEndUserDataShared"]
    )


def test_retention_days_are_answered_when_every_collection_declares_them() -> None:
    app = mailer_app()
    app.data = type(app.data)(tuple(c for c in app.data.collections if c.retention_days is not None))
    facts = gather(load_settings(), [app])

    assert app_answers(facts)[0]["dataRetention"] == {"retentionDurationInDays": {"min": 90, "max": 90}}
    assert "dataRetention" not in app_answers(facts, failed=["record-retention"])[0]


def test_the_answers_are_served_from_the_published_statement(runtime: Runtime) -> None:
    from pledge.statement.pages import serve_statement

    client = TestClient(create_host(runtime, extra_routes=asyncio.run(serve_statement(runtime, [mailer_app()]))))
    served = client.get("/privacy/marketplace.json")
    statement = client.get("/privacy.json").json()

    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    body = served.json()
    assert body["source"] == SOURCE and body["apps"][0]["addonKey"] == "issue-mailer"
    assert body["pledge"]["statementVersion"] == statement["version"]["id"]
    outcomes = {result["claim"]: result["outcome"] for result in statement["verification"]["results"]}
    assert body["pledge"]["claims"] == {claim.id: outcomes.get(claim.id) for claim in CLAIMS}


def test_an_app_s_sub_processors_are_third_parties_beside_the_hosting_provider() -> None:
    postmark = SubProcessor("Postmark", "sending the rules' e-mails", ("US",), ("smtp.postmarkapp.com",))
    mailer = dataclasses.replace(mailer_app(), sub_processors=(postmark,))
    facts = gather(load_settings(region="us-west-2", hosting_provider="aws"), [mailer])
    trust, _unanswered = app_answers(facts)
    assert [third["name"] for third in trust["thirdPartyInformation"]["thirdPartyDetails"]] == [
        "Amazon Web Services (AWS)",
        "Postmark",
    ]
    assert trust["thirdPartyInformation"]["thirdPartyDetails"][1]["purpose"] == "sending the rules' e-mails"
