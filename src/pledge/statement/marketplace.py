"""Answers for the Atlassian Marketplace "Privacy & Security" tab, derived from the statement's own facts (S14).

One group per part of the questionnaire (data access and storage, third parties, logging, data residency,
retention, security, privacy roles). A "yes" is given only for a claim whose check held in the verification the
statement was published with; what is not yet provided, not offered or failing is answered "no" and listed, so the
listing never says more than the statement.
"""

from __future__ import annotations

from typing import Any

from pledge.statement.claims import CLAIMS, StatementClaim
from pledge.statement.facts import Facts
from pledge.statement.verify import Outcome, Verification
from pledge.store.data_manifest import Category


def answers(facts: Facts, verification: Verification, claims: tuple[StatementClaim, ...] = CLAIMS) -> dict[str, Any]:
    """The answers of a deployment stating ``facts``, from the ``verification`` its statement was published with."""
    outcomes = verification.outcomes()
    provided = {claim.id for claim in claims if outcomes.get(claim.id) is Outcome.PASSED}
    personal = [f"{app.key}:{name}" for app in facts.apps for name in app.fields_of(Category.PERSONAL)]
    content = [f"{app.key}:{name}" for app in facts.apps for name in app.fields_of(Category.CONTENT)]
    declared_retention = [
        collection.retention_days
        for app in facts.apps
        for collection in app.collections
        if collection.retention_days is not None
    ]
    kept_until_deletion = any(collection.retention_days is None for app in facts.apps for collection in app.collections)
    stores_end_user_data = bool(personal or content)
    residency = "data-residency" in provided
    return {
        "dataAccessAndStorage": {
            "processesEndUserDataOutsideAtlassian": bool(facts.apps),
            "storesEndUserDataOutsideAtlassian": stores_end_user_data,
            "dataTypes": sorted(
                {
                    field.category.value
                    for app in facts.apps
                    for collection in app.collections
                    for field in collection.fields
                }
            ),
            "personalDataFields": personal,
            "contentFields": content,
            "siteIdentityOnly": "site-identity-only" in provided,
            "declarationsEnforced": "undeclared-data-refused" in provided,
        },
        "thirdPartiesAndSubprocessors": {
            "subprocessors": [],
            "egressControlled": "egress-allowlist" in provided,
            "allowedDestinations": list(facts.egress_destinations) if "egress-allowlist" in provided else [],
            "peerDeployments": list(facts.peer_deployments) if "egress-allowlist" in provided else [],
            "egressRefusalsRecorded": "egress-refusals-recorded" in provided,
            "subprocessorRegister": "sub-processors" in provided,
        },
        "logging": {
            "redactsTokensSecretsAndEmails": "logs-redacted" in provided,
        },
        "dataResidency": {
            "hostingRegions": [facts.region],
            "hostingRegionNames": [facts.region_name],
            "hostingProvider": facts.hosting_provider,
            "realm": facts.forge_realm if residency else None,
            "supportsDataResidency": residency,
            "supportsRealmMigration": residency,
        },
        "dataRetention": {
            "minimumRetentionDays": min(declared_retention, default=None),
            "maximumRetentionDays": None if kept_until_deletion else max(declared_retention, default=None),
            "keptUntilAccountDeletion": kept_until_deletion,
            "accountEndsOnUninstall": "uninstall-ends-account" in provided,
            "daysKeptAfterUninstall": facts.deletion_grace_days if "purge-after-grace" in provided else None,
            "deletedAfterUninstall": "purge-after-grace" in provided,
            "automaticRecordDeletion": "record-retention" in provided,
        },
        "security": {
            "encryptsAppDataAtRest": "app-data-encrypted" in provided,
            "keysHeldApartFromData": "keyring-private" in provided,
            "encryptedBackups": "backup-encrypted" in provided,
            "httpsOnly": "https-only" in provided,
            "tls12OrLaterWithHsts": "tls-hsts" in provided,
            "authenticatesEveryRequest": "signed-requests" in provided,
        },
        "privacyRoles": {
            "gdpr": "processor" if facts.apps else "not applicable",
            "ccpa": "service provider" if facts.apps else "not applicable",
        },
        "notYetProvided": [claim.id for claim in claims if outcomes.get(claim.id) is Outcome.MISSING],
        "notOffered": [claim.id for claim in claims if outcomes.get(claim.id) is Outcome.NOT_OFFERED],
        "failedVerification": [claim.id for claim in claims if outcomes.get(claim.id) is Outcome.FAILED],
    }
