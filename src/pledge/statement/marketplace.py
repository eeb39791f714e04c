"""Answers for the Atlassian Marketplace "Privacy & Security" tab, in Atlassian's own field names (S14).

The names are those of the Marketplace REST API's app trust information (``appTrustInformation``, the body of
``PUT /rest/2/addons/{addonKey}/privacy-and-security``), as documented at :data:`SOURCE`. One set of answers per
served app, because Atlassian keeps one per app.

An answer is given only where a fact proves it: a claim whose check held in the verification the statement was
published with, a true negative the statement prints (a realm migration this deployment does not offer), or what the
app declares (its scopes, events and stored fields). Everything else is left out of ``appTrustInformation`` and
listed under ``unanswered`` with the reason: a claim that failed or has no check yet, a question only the vendor can
answer (legal roles, contacts), or a field whose meaning or values the source does not document. What Pledge knows
that Atlassian's schema has no field for is in the separate ``pledge`` object, under Pledge's own names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from pledge.statement.claims import CLAIMS, StatementClaim
from pledge.statement.facts import AppFacts, Facts
from pledge.statement.verify import Outcome, Verification
from pledge.store.data_manifest import Category

__all__ = ["DOES_NOT_SUPPORT_DATA_RESIDENCY", "SOURCE", "answers"]

SOURCE: Final = "https://developer.atlassian.com/platform/marketplace/rest/v2/api-group-privacy-and-security/"
"""Where Atlassian documents the field names used here."""

DOES_NOT_SUPPORT_DATA_RESIDENCY: Final = "APP_DOES_NOT_SUPPORT_DR"
"""The ``dataResidency.isDataResidencySupported`` value of an app that does not support data residency. The source
documents the field as an enumeration and shows one value, for data stored in Atlassian; this one is the value
Atlassian returns for such an app. The value for an app that stores data outside Atlassian and supports data
residency was not found, so that case is left unanswered."""

_OUTCOME_WORDS: Final[Mapping[Outcome | None, str]] = MappingProxyType(
    {
        Outcome.FAILED: "failed verification",
        Outcome.MISSING: "is not yet provided",
        Outcome.NOT_OFFERED: "is not offered",
    }
)
_VENDOR = "a question for the vendor: no fact of the deployment answers it"
_SITE_IDENTITY = (
    "Site identity: Connect client key, Forge installation ID, cloud ID, base URL, product, installation state, "
    "the shared secret, and for a Forge app whether its license is active"
)


@dataclass
class _Form:
    """One app's answers under construction: a field is set or listed as unanswered, never both."""

    outcomes: Mapping[str, Outcome]
    trust: dict[str, Any] = field(default_factory=dict)
    unanswered: list[dict[str, str]] = field(default_factory=list)

    def held(self, *claim_ids: str) -> bool:
        return all(self.outcomes.get(claim_id) is Outcome.PASSED for claim_id in claim_ids)

    def why_not(self, *claim_ids: str) -> str:
        """Why the claims do not prove an answer: the first of them that did not hold, and its outcome."""
        for claim_id in claim_ids:
            outcome = self.outcomes.get(claim_id)
            if outcome is not Outcome.PASSED:
                return f"the claim {claim_id} {_OUTCOME_WORDS.get(outcome, 'was not verified')}"
        return ""

    def answer(self, path: str, value: Any) -> None:
        group, _, name = path.rpartition(".")
        target = self.trust
        for part in group.split("."):
            target = target.setdefault(part, {})
        target[name] = value

    def leave(self, path: str, reason: str) -> None:
        self.unanswered.append({"field": path, "reason": reason})


def answers(facts: Facts, verification: Verification, claims: tuple[StatementClaim, ...] = CLAIMS) -> dict[str, Any]:
    """The answers of a deployment stating ``facts``, from the ``verification`` its statement was published with."""
    outcomes = verification.outcomes()
    return {
        "source": SOURCE,
        "apps": [_app_answers(app, facts, outcomes) for app in facts.apps],
        "pledge": _pledge_facts(facts, verification, outcomes, claims),
    }


def _app_answers(app: AppFacts, facts: Facts, outcomes: Mapping[str, Outcome]) -> dict[str, Any]:
    form = _Form(outcomes)
    stored = _data_access_and_storage(form, app)
    _third_parties(form, app, facts)
    _logs(form)
    _data_residency(form, app, facts, stored)
    _data_retention(form, app)
    _privacy(form)
    _security(form)
    return {"addonKey": app.key, "appTrustInformation": form.trust, "unanswered": form.unanswered}


def _accessed(app: AppFacts) -> list[str]:
    product = app.product.capitalize()
    return [
        "Site installation details sent by Atlassian (client key, base URL, shared secret)",
        *(f"{product} data the API scope {scope} allows the app to read" for scope in app.scopes),
        *(f"{product} event {event}, with the data it carries" for event in app.events),
    ]


def _data_access_and_storage(form: _Form, app: AppFacts) -> list[str] | None:
    """Answers what the app reads and stores; the stored types when every claim bounding them held."""
    # The app's handlers run on this server, which receives the product's requests and events for them, and it
    # keeps a record of every installed site: both hold whatever the checks find.
    form.answer("dataAccessAndStorage.appProcessEUDOutsideAtlassian", True)
    form.answer("dataAccessAndStorage.typesOfDataAccessed", _accessed(app))
    form.answer("dataAccessAndStorage.appStoresEUDOutsideAtlassian", True)
    form.leave(
        "dataAccessAndStorage.isSameDataProcessedAndStored",
        "Pledge does not compare what an app reads with what it stores: see typesOfDataAccessed and typesOfDataStored",
    )
    bounding = ("site-identity-only", "data-declared", "undeclared-data-refused")
    if not form.held(*bounding):
        form.leave(
            "dataAccessAndStorage.typesOfDataStored",
            f"the list would not be known to be complete: {form.why_not(*bounding)}",
        )
        return None
    stored = [
        _SITE_IDENTITY,
        *(
            f"{collection.name}.{item.name} ({item.category.value}): {item.purpose}"
            for collection in app.collections
            for item in collection.fields
        ),
    ]
    form.answer("dataAccessAndStorage.typesOfDataStored", stored)
    return stored


def _third_parties(form: _Form, app: AppFacts, facts: Facts) -> None:
    if not form.held("egress-allowlist", "hosting-region"):
        reason = f"where data goes is not proven: {form.why_not('egress-allowlist', 'hosting-region')}"
        form.leave("thirdPartyInformation.isEndUserDataShared", reason)
        form.leave("thirdPartyInformation.thirdPartyDetails", reason)
    elif facts.hosting_provider is None:
        reason = "the hosting provider, which holds the data, is not declared (PLEDGE_HOSTING_PROVIDER)"
        form.leave("thirdPartyInformation.isEndUserDataShared", reason)
        form.leave("thirdPartyInformation.thirdPartyDetails", reason)
    else:
        # The outbound client reaches only Atlassian and this service's own deployments, and the socket guard adds
        # only the app's declared sub-processors: the other third party that holds site data is the provider
        # hosting the server, its database and backups.
        form.answer("thirdPartyInformation.isEndUserDataShared", True)
        form.answer(
            "thirdPartyInformation.thirdPartyDetails",
            [
                {
                    "name": facts.hosting_provider,
                    "purpose": f"Hosts the service, its database and its backups in the {facts.region_name} "
                    f"region ({facts.region})",
                },
                *({"name": sub.name, "purpose": sub.purpose} for sub in (*app.sub_processors, *facts.sub_processors)),
            ],
        )
        form.leave(
            "thirdPartyInformation.thirdPartyDetails.link",
            "the provider's link is not declared in the deployment's settings",
        )
        form.leave(
            "thirdPartyInformation.thirdPartyDetails.thirdPartyCountries",
            "Pledge knows the hosting region, not the countries it spans",
        )
    form.leave(
        "thirdPartyInformation.dataSubProcessors",
        f"no published register of sub-processors: {form.why_not('sub-processors')}",
    )


def _logs(form: _Form) -> None:
    redacted = (
        "tokens, secrets and e-mail addresses are redacted from logs"
        if form.held("logs-redacted")
        else f"log redaction is not proven ({form.why_not('logs-redacted')})"
    )
    form.leave(
        "logDetails.logEndUserData",
        f"{redacted}, but no check proves the logs hold no other end-user data (site addresses, issue keys)",
    )
    form.leave(
        "logDetails.logProcessAndOrStoreEUDOutsideAtlassian",
        "where logs are kept is the operator's choice; no check reads it",
    )
    form.leave(
        "logDetails.logEUDShareWithThirdParty",
        "where logs are sent is the operator's choice; no check reads it",
    )
    form.leave("logDetails.logsIntegralForAppFunctionality", "no check covers it")


def _data_residency(form: _Form, app: AppFacts, facts: Facts, stored: list[str] | None) -> None:
    outcome = form.outcomes.get("data-residency")
    if outcome is Outcome.NOT_OFFERED or (outcome is Outcome.PASSED and not app.forge):
        # The statement says so (not offered), or realm migration serves Forge apps and this app is not one.
        form.answer("dataResidency.isDataResidencySupported", DOES_NOT_SUPPORT_DATA_RESIDENCY)
        form.answer("dataResidency.realmMigrationSupported", False)
        form.leave("dataResidency.inScopeDataTypes", "the app does not support data residency")
    elif outcome is Outcome.PASSED:
        form.leave(
            "dataResidency.isDataResidencySupported",
            f"supported (realm {facts.forge_realm}, the claim data-residency held), but the value Atlassian's "
            f"schema uses for an app that stores data outside Atlassian and supports data residency is not in the "
            f"source",
        )
        form.answer("dataResidency.realmMigrationSupported", True)
        if stored is not None:
            form.answer("dataResidency.inScopeDataTypes", stored)
        else:
            form.leave("dataResidency.inScopeDataTypes", "the stored data types are unanswered")
    else:
        reason = form.why_not("data-residency")
        for name in ("isDataResidencySupported", "realmMigrationSupported", "inScopeDataTypes"):
            form.leave(f"dataResidency.{name}", reason)
    form.leave(
        "dataResidency.countriesWhereEndUserDataStored",
        "Pledge knows the hosting region, not the countries it spans"
        if form.held("hosting-region")
        else form.why_not("hosting-region"),
    )


def _data_retention(form: _Form, app: AppFacts) -> None:
    form.leave("dataRetention.isDataRetentionSupported", "the source does not document what this field asks")
    form.leave("dataRetention.isCustomRetentionPeriodAllowed", "no check covers it")
    days = [collection.retention_days for collection in app.collections]
    if None in days:
        kept = ", ".join(c.name for c in app.collections if c.retention_days is None)
        form.leave(
            "dataRetention.retentionDurationInDays",
            f"{kept} kept until the site's account is deleted, which no number of days bounds",
        )
    elif not days:
        form.leave("dataRetention.retentionDurationInDays", "the app stores no records")
    elif not form.held("record-retention"):
        form.leave("dataRetention.retentionDurationInDays", form.why_not("record-retention"))
    else:
        declared = [day for day in days if day is not None]
        form.answer("dataRetention.retentionDurationInDays", {"min": min(declared), "max": max(declared)})
    form.leave(
        "dataRetention.isRetentionDurationIndefinite",
        "the source does not say whether data kept until the site's account is deleted counts as indefinite",
    )


def _privacy(form: _Form) -> None:
    techniques = [
        technique
        for claim_id, technique in (
            ("app-data-encrypted", "Each site's stored app data is encrypted under the site's own key"),
            ("backup-encrypted", "Backups are encrypted before they leave the server"),
        )
        if form.held(claim_id)
    ]
    if techniques:
        form.answer("privacy.privacyEnhancingTechniques.arePrivacyEnhancingTechniquesSupported", True)
        form.answer("privacy.privacyEnhancingTechniques.privacyEnhancingTechniquesSupported", techniques)
    else:
        reason = form.why_not("app-data-encrypted")
        form.leave("privacy.privacyEnhancingTechniques.arePrivacyEnhancingTechniquesSupported", reason)
        form.leave("privacy.privacyEnhancingTechniques.privacyEnhancingTechniquesSupported", reason)
    for path in ("privacy.gdpr", "privacy.ccpa", "privacy.dataProcessingAgreement"):
        form.leave(path, f"{_VENDOR} (a legal role or agreement)")


def _security(form: _Form) -> None:
    form.leave(
        "security.isDiskEncryptionSupported",
        "app data is encrypted per site"
        + ("" if form.held("app-data-encrypted") else f" only if proven ({form.why_not('app-data-encrypted')})")
        + ", but no check reads whether the host's disks are encrypted",
    )
    for name in ("securityContact", "publicSecurityPoliciesLink", "permissionsJustification"):
        form.leave(f"security.{name}", _VENDOR)
    form.leave("security.requiresUsersToProvidePATs", "no check covers it")


def _pledge_facts(
    facts: Facts, verification: Verification, outcomes: Mapping[str, Outcome], claims: tuple[StatementClaim, ...]
) -> dict[str, Any]:
    """What Pledge proves that Atlassian's schema has no field for, under Pledge's names; a fact appears only when
    the claim proving it held (null otherwise)."""

    def held(claim_id: str) -> bool:
        return outcomes.get(claim_id) is Outcome.PASSED

    return {
        "statementVersion": verification.version_id,
        "verifiedAt": verification.verified_at.isoformat(),
        "verificationPassed": verification.passed,
        "claims": {claim.id: outcomes[claim.id].value if claim.id in outcomes else None for claim in claims},
        "hosting": {
            "region": facts.region,
            "regionName": facts.region_name,
            "provider": facts.hosting_provider,
        }
        if held("hosting-region")
        else None,
        "realm": facts.forge_realm if held("data-residency") else None,
        "egressDestinations": list(facts.egress_destinations) if held("egress-allowlist") else None,
        "peerDeployments": list(facts.peer_deployments) if held("egress-allowlist") else None,
        "daysKeptAfterUninstall": facts.deletion_grace_days if held("purge-after-grace") else None,
        "personalDataFields": [f"{app.key}:{name}" for app in facts.apps for name in app.fields_of(Category.PERSONAL)]
        if held("undeclared-data-refused")
        else None,
        "undeclaredApps": list(facts.undeclared_apps),
    }
