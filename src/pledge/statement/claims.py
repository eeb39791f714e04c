"""The statement's claims, in reading order: the one place the statement learns what it promises (S1..S14).

Each claim lives with the code that keeps its promise and exposes it there (``CLAIMS`` of :mod:`pledge.store.claims`,
:mod:`pledge.tenants.claims`, :mod:`pledge.forge.claims`, :mod:`pledge.backup.claims`,
:mod:`pledge.retention.claims`, :mod:`pledge.egress.claims`, :mod:`pledge.reporting.claims`,
:mod:`pledge.legal.claims`,
:mod:`pledge.settings_claims`,
:mod:`pledge.transport.claims`, :mod:`pledge.logs_claims`; the two every protocol keeps together in
:mod:`pledge.statement.verifier_claims`). This module places them in the statement's order, beside the promises no
package keeps yet and the disclosures (true negatives, the customer's part): a claim without a check is rendered as
**Not yet provided** and reported as missing by verification, which counts as a failure, so the statement never
claims more than the system does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pledge import logs_claims, settings_claims
from pledge.backup import claims as backup_claims
from pledge.egress import claims as egress_claims
from pledge.forge import claims as forge_claims
from pledge.legal import claims as legal_claims
from pledge.promises import Claim, Disclosure, DisclosureKind, Evidence, Section
from pledge.reporting import claims as reporting_claims
from pledge.retention import claims as retention_claims
from pledge.statement import verifier_claims
from pledge.statement.facts import Deployment, Facts
from pledge.store import claims as store_claims
from pledge.tenants import claims as tenants_claims
from pledge.transport import claims as transport_claims

__all__ = ["BULLETS", "CLAIMS", "Bullet", "Claim", "Disclosure", "Evidence", "Section", "StatementClaim", "bullets_in"]

StatementClaim = Claim[Deployment, Facts]
"""A claim as the statement checks it: its check reads the deployment and the stated facts."""


# Promises of subsystems still to come (portability, staff access, transport, the sub-processor
# register): stated as what the service will do, with no check, so they read and verify as not yet provided.
_EXPORT: StatementClaim = Claim(
    "export",
    "S8",
    Section.PORTABILITY,
    "Export of your site's data on request.",
)
_STAFF_PURPOSE: StatementClaim = Claim(
    "staff-purpose",
    "S9",
    Section.ACCESS,
    "Staff access to your data only for health monitoring, maintenance or at your request, through "
    "time-limited grants that record the purpose and who approved them.",
)
_STAFF_AUDIT: StatementClaim = Claim(
    "staff-audit",
    "S10",
    Section.ACCESS,
    "Access to server data for authorised employees only, every access written to a tamper-evident audit "
    "log that is verified end to end.",
)
_TLS_HSTS: StatementClaim = Claim(
    "tls-hsts",
    "S12",
    Section.SECURITY,
    "TLS 1.2 or later only, with HSTS (at least one year) and security headers on every response.",
)
_EGRESS_REFUSALS_RECORDED: StatementClaim = Claim(
    "egress-refusals-recorded",
    "S13",
    Section.PRIVACY,
    "Collected data goes to no third party: no outbound request bypasses that client, and every refusal is "
    "kept in a durable record and explained.",
)
_SUB_PROCESSORS: StatementClaim = Claim(
    "sub-processors",
    "S13",
    Section.PRIVACY,
    "A published register of sub-processors (name, purpose, countries).",
)
# True negatives and the customer's part: sentences that promise no protection, so they have no check.
_CLOUD_DATA_CENTER = Disclosure(
    "cloud-data-center",
    Section.PORTABILITY,
    DisclosureKind.NOT_OFFERED,
    "Moving your site's app data between Atlassian Cloud and Data Center.",
)
_LOGIN_SECURITY = Disclosure(
    "login-security",
    Section.ACCESS,
    DisclosureKind.YOURS,
    "The security of your users' Atlassian logins (passwords, two-step verification) and who in your "
    "organisation may install and use the app: this service never sees a password.",
)
_DISCLOSURES = (_CLOUD_DATA_CENTER, _LOGIN_SECURITY)

_PLANNED = (
    _EXPORT,
    _STAFF_PURPOSE,
    _STAFF_AUDIT,
    _TLS_HSTS,
    _EGRESS_REFUSALS_RECORDED,
    _SUB_PROCESSORS,
)

# Every claim, by package: composed below in the statement's reading order.
_KEPT: tuple[StatementClaim, ...] = (
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

STATEMENT_ORDER = (
    "hosting-region",
    "data-residency",
    "site-identity-only",
    "data-declared",
    "undeclared-data-refused",
    "backup-daily",
    "backup-encrypted",
    "restore-drill",
    "uninstall-ends-account",
    "purge-after-grace",
    "record-retention",
    "export",
    "cloud-data-center",
    "staff-purpose",
    "staff-audit",
    "login-security",
    "signed-requests",
    "https-only",
    "tls-hsts",
    "keyring-private",
    "app-data-encrypted",
    "logs-redacted",
    "egress-allowlist",
    "egress-refusals-recorded",
    "personal-data-reporting",
    "sub-processors",
    "legal-requests",
)
"""Claim ids in the order the statement reads them (within a section, bullets keep this order)."""


Bullet = StatementClaim | Disclosure
"""One bullet of the statement: a claim, checked or not yet provided, or a disclosure."""


def in_order(order: Iterable[str], claims: Iterable[Bullet]) -> tuple[Bullet, ...]:
    """``claims`` in the order of their ids in ``order``; every claim placed exactly once, every id a claim."""
    by_id: dict[str, Bullet] = {}
    for claim in claims:
        if claim.id in by_id:
            raise ValueError(f"two claims have the id {claim.id!r}")
        by_id[claim.id] = claim
    ordered = tuple(order)
    if sorted(ordered) != sorted(by_id):
        unplaced = sorted(set(by_id) - set(ordered))
        unknown = sorted(set(ordered) - set(by_id))
        raise ValueError(f"the statement order does not match the claims: unplaced {unplaced}, unknown {unknown}")
    return tuple(by_id[claim_id] for claim_id in ordered)


BULLETS: tuple[Bullet, ...] = in_order(STATEMENT_ORDER, (*_KEPT, *_PLANNED, *_DISCLOSURES))
"""Every bullet of the statement, in reading order."""
CLAIMS: tuple[StatementClaim, ...] = tuple(bullet for bullet in BULLETS if isinstance(bullet, Claim))
"""The bullets that make a promise, each verified (or reported missing)."""


def bullets_in(section: Section, bullets: Sequence[Bullet]) -> tuple[Bullet, ...]:
    return tuple(bullet for bullet in bullets if bullet.section is section)
