"""Marketplace "Privacy & Security" answers: derived from the statement's facts, never saying more than it does."""

from __future__ import annotations

from typing import Any

from tests.statement.example import mailer_app, verified

from pledge.config import load_settings
from pledge.statement.claims import CLAIMS
from pledge.statement.facts import Facts, gather
from pledge.statement.marketplace import answers as answers_of
from pledge.statement.verify import Outcome


def answers(facts: Facts, failed: tuple[str, ...] = ()) -> dict[str, Any]:
    return answers_of(facts, verified(facts, failed=failed))


def test_the_answers_follow_the_manifest_and_the_settings() -> None:
    facts = gather(load_settings(region="eu-central-1", deletion_grace_days=45), [mailer_app()])
    result = answers(facts)

    storage = result["dataAccessAndStorage"]
    assert storage["storesEndUserDataOutsideAtlassian"] is True
    assert storage["personalDataFields"] == ["issue-mailer:rules.recipient"]
    assert storage["contentFields"] == ["issue-mailer:sent_mail.subject"]
    assert storage["dataTypes"] == ["configuration", "content", "personal data", "secret"]
    assert result["dataResidency"]["hostingRegions"] == ["eu-central-1"]
    retention = result["dataRetention"]
    assert (retention["minimumRetentionDays"], retention["maximumRetentionDays"]) == (90, None)
    assert retention["keptUntilAccountDeletion"] is True
    assert retention["daysKeptAfterUninstall"] == 45
    assert retention["deletedAfterUninstall"] is True and retention["automaticRecordDeletion"] is True
    assert result["privacyRoles"] == {"gdpr": "processor", "ccpa": "service provider"}


def test_what_is_not_yet_provided_is_answered_no() -> None:
    result = answers(gather(load_settings(dev_mode=False, base_url="https://pledge.example.com"), [mailer_app()]))
    assert result["security"]["tls12OrLaterWithHsts"] is False
    assert result["thirdPartiesAndSubprocessors"]["subprocessorRegister"] is False
    assert result["thirdPartiesAndSubprocessors"]["egressRefusalsRecorded"] is False
    assert result["security"]["keysHeldApartFromData"] is True
    assert result["security"]["httpsOnly"] is True
    assert result["notYetProvided"] == [claim.id for claim in CLAIMS if not claim.provided]


def test_a_claim_that_failed_its_verification_is_answered_no() -> None:
    result = answers(gather(load_settings(), []), failed=("https-only", "keyring-private", "purge-after-grace"))
    assert result["security"]["httpsOnly"] is False
    assert result["security"]["keysHeldApartFromData"] is False
    assert result["dataRetention"]["deletedAfterUninstall"] is False
    assert result["dataRetention"]["daysKeptAfterUninstall"] is None
    assert sorted(result["failedVerification"]) == ["https-only", "keyring-private", "purge-after-grace"]
    assert verified(gather(load_settings(), [])).outcomes()["https-only"] is Outcome.PASSED


def test_an_app_that_stores_nothing_stores_no_end_user_data() -> None:
    result = answers(gather(load_settings(), []))
    assert result["dataAccessAndStorage"]["storesEndUserDataOutsideAtlassian"] is False
    assert result["privacyRoles"]["gdpr"] == "not applicable"


def test_what_the_store_connect_and_egress_enforce_is_answered_yes() -> None:
    result = answers(gather(load_settings(), [mailer_app()]))
    assert result["security"]["encryptsAppDataAtRest"] is True
    assert result["dataAccessAndStorage"]["declarationsEnforced"] is True
    assert result["dataRetention"]["accountEndsOnUninstall"] is True
    third_parties = result["thirdPartiesAndSubprocessors"]
    assert third_parties["egressControlled"] is True
    assert third_parties["allowedDestinations"] == [
        "https://api.atlassian.com",
        "https://connect-install-keys.atlassian.com",
        "https://forge.cdn.prod.atlassian-dev.net",
    ]
    assert third_parties["peerDeployments"] == []
    assert third_parties["subprocessors"] == []


def test_encrypted_backups_are_answered_yes_now_that_backups_provide_their_claim() -> None:
    result = answers(gather(load_settings(dev_mode=False, base_url="https://pledge.example.com"), [mailer_app()]))
    assert result["security"]["encryptedBackups"] is True
