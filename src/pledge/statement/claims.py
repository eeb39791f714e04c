"""Every sentence the statement commits to, each with the check that proves it on live evidence (S1..S14).

:data:`CLAIMS` is the one place a promise enters the statement: a capability that lands adds (or completes) its
:class:`Claim` here, with a check. A claim without a check is rendered as **Not yet provided** and reported as
missing by verification, which counts as a failure: the statement never claims more than the system does.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pledge import trust
from pledge.app import App, Auth
from pledge.logs import redact
from pledge.statement.facts import Deployment, Facts
from pledge.store.manifest import Category
from pledge.tenants import stored_fields


class Section(enum.Enum):
    """The statement's sections, in reading order; the value is the heading."""

    STORAGE = "Data storage and location"
    BACKUP = "Backup and recovery"
    REMOVAL = "Account removal and data retention"
    PORTABILITY = "Data portability"
    ACCESS = "Access to your data"
    SECURITY = "Application and infrastructure security"
    PRIVACY = "Privacy"

    @property
    def title(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a check found: whether the claim holds, and the facts that show it (never a secret)."""

    passed: bool
    detail: str


Check = Callable[[Deployment, Facts], Evidence]


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    promise: str
    """The promise of DESIGN.md it keeps, e.g. ``S1``."""
    section: Section
    text: str
    """The sentence, formatted with ``facts`` (``{facts.region}``)."""
    check: Check | None = None

    @property
    def provided(self) -> bool:
        return self.check is not None

    def sentence(self, facts: Facts) -> str:
        return self.text.format(facts=facts)


# --- checks -------------------------------------------------------------------------------------------

# What S3 allows the tenant registry to keep about a site: its ids, address, product, state and times, and the
# shared secret (sealed under the site's own key). A column outside this set breaks the promise.
SITE_IDENTITY_FIELDS = frozenset(
    {
        "id",
        "app_key",
        "client_key",
        "installation_id",
        "cloud_id",
        "base_url",
        "product_type",
        "region",
        "state",
        "shared_secret",
        "created_at",
        "updated_at",
        "state_changed_at",
    }
)

# Values the log redaction must mask; the probe line is never logged, only passed through the redactor.
_LOG_PROBE_SECRETS = ("c2lnbmF0dXJlLXByb2Jl", "probe-shared-secret", "probe-bearer-token", "probe.person@example.com")
_LOG_PROBE = (
    f"Authorization: JWT eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJwcm9iZSJ9.{_LOG_PROBE_SECRETS[0]} "
    f'{{"sharedSecret": "{_LOG_PROBE_SECRETS[1]}"}} Authorization: Bearer {_LOG_PROBE_SECRETS[2]} '
    f"installer {_LOG_PROBE_SECRETS[3]}"
)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def check_region(deployment: Deployment, facts: Facts) -> Evidence:
    counts = deployment.tenants_by_region()
    elsewhere = {region: count for region, count in counts.items() if region != facts.region}
    if deployment.settings.region != facts.region:
        return Evidence(False, f"the statement says {facts.region}, the setting is {deployment.settings.region}")
    if elsewhere:
        listed = ", ".join(f"{_plural(count, 'tenant')} in {region}" for region, count in sorted(elsewhere.items()))
        return Evidence(False, f"setting {facts.region}, but {listed}")
    total = sum(counts.values())
    return Evidence(True, f"setting {facts.region}; {_plural(total, 'tenant')}, all in {facts.region}")


def check_site_identity(deployment: Deployment, facts: Facts) -> Evidence:
    fields = stored_fields()
    extra = sorted(set(fields) - SITE_IDENTITY_FIELDS)
    if extra:
        return Evidence(False, f"the tenant registry also stores: {', '.join(extra)}")
    return Evidence(True, f"the tenant registry stores {len(fields)} fields: {', '.join(fields)}")


def check_data_declared(deployment: Deployment, facts: Facts) -> Evidence:
    if facts.undeclared_apps:
        return Evidence(False, f"served without a data manifest: {', '.join(facts.undeclared_apps)}")
    if not facts.apps:
        return Evidence(True, "no apps are served")
    collections = sum(len(app.collections) for app in facts.apps)
    fields = sum(len(collection.fields) for app in facts.apps for collection in app.collections)
    personal = sum(len(app.fields_of(Category.PERSONAL)) for app in facts.apps)
    secret = sum(len(app.fields_of(Category.SECRET)) for app in facts.apps)
    return Evidence(
        True,
        f"{_plural(len(facts.apps), 'app')}, {_plural(collections, 'collection')}, {_plural(fields, 'field')} "
        f"declared ({personal} personal data, {secret} secret)",
    )


def check_retention_settings(deployment: Deployment, facts: Facts) -> Evidence:
    settings = deployment.settings
    detail = (
        f"backups kept {settings.backup_retention_days} days (stated {facts.backup_retention_days}, "
        f"at least {facts.minimum_backup_retention_days}); uninstalled sites kept "
        f"{settings.deletion_grace_days} days (stated {facts.deletion_grace_days})"
    )
    holds = (
        settings.backup_retention_days >= max(facts.backup_retention_days, facts.minimum_backup_retention_days)
        and settings.deletion_grace_days >= facts.deletion_grace_days
    )
    return Evidence(holds, detail)


def check_signed_requests(deployment: Deployment, facts: Facts) -> Evidence:
    if not deployment.apps:
        return Evidence(True, "no apps are served")
    runtime = deployment.require_runtime()
    problems: list[str] = []
    described: list[str] = []
    for app in deployment.apps:
        if not isinstance(app, App):
            problems.append(f"{getattr(app, 'key', app)!s}: does not declare how its routes authenticate")
            continue
        kinds = Counter([route.auth for route in app.routes] + [Auth.CONNECT] * (len(app.webhooks) + len(app.pages)))
        verifiers = trust.verifiers_for(app, runtime)
        unverified = sorted(kind.value for kind in kinds if kind is not Auth.PUBLIC and kind not in verifiers)
        if unverified:
            problems.append(f"{app.key}: no verifier for {', '.join(unverified)} routes")
        counts = ", ".join(f"{count} {kind.value}" for kind, count in sorted(kinds.items()))
        described.append(f"{app.key}: {counts or 'no routes'}")
    if problems:
        return Evidence(False, "; ".join(problems))
    return Evidence(True, "; ".join(described) + " (every non-public route behind its verifier)")


def check_https(deployment: Deployment, facts: Facts) -> Evidence:
    settings = deployment.settings
    if settings.dev_mode:
        return Evidence(False, f"development mode: plain HTTP is served at {settings.public_url}")
    if not settings.public_url.startswith("https://"):
        return Evidence(False, f"the public URL {settings.public_url} is not https")
    return Evidence(True, f"public URL {settings.public_url}; development mode off")


def check_keyring_private(deployment: Deployment, facts: Facts) -> Evidence:
    path = deployment.settings.resolved_keyring_path
    mode = deployment.keyring_mode()
    if mode is None:
        return Evidence(False, f"no keyring file at {path}")
    if mode & 0o077:
        return Evidence(False, f"{path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`")
    return Evidence(True, f"{path} has mode {mode:04o}")


def check_logs_redacted(deployment: Deployment, facts: Facts) -> Evidence:
    redacted = redact(_LOG_PROBE)
    leaked = [value for value in _LOG_PROBE_SECRETS if value in redacted]
    if leaked:
        return Evidence(False, f"the log redaction let {_plural(len(leaked), 'probe value')} through")
    return Evidence(True, "a probe line's JWT, shared secret, bearer token and e-mail address were all masked")


# --- the claims ---------------------------------------------------------------------------------------

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "hosting-region",
        "S1",
        Section.STORAGE,
        "All data this service stores is hosted in the **{facts.region}** region.",
        check_region,
    ),
    Claim(
        "site-identity-only",
        "S3",
        Section.STORAGE,
        "About your Atlassian site it stores only what identifies the installation: the site's unique IDs "
        "(Connect client key, Forge installation ID, cloud ID), its base URL, the product, the installation's "
        "state and when it changed, and the shared secret your site signs requests with. It stores no site "
        "name, no e-mail address and nothing about the person who installed the app.",
        check_site_identity,
    ),
    Claim(
        "data-declared",
        "S2",
        Section.STORAGE,
        "Each app declares every collection and field it stores, with its category (configuration, content, "
        "personal data, secret), purpose and retention; the app sections below are generated from those "
        "declarations. No personal data is stored unless an app section lists it.",
        check_data_declared,
    ),
    Claim(
        "undeclared-data-refused",
        "S2",
        Section.STORAGE,
        "Enforcement of those declarations: the store refusing any undeclared field, and a sampled scan of "
        "stored records finding no undeclared personal data.",
    ),
    Claim(
        "backup-daily",
        "S5",
        Section.BACKUP,
        "Backups of all stored data at least once a day, each kept {facts.backup_retention_days} days.",
    ),
    Claim(
        "backup-encrypted",
        "S4",
        Section.BACKUP,
        "Backups encrypted before they leave the server, unreadable to anyone without the key-encryption key.",
    ),
    Claim(
        "restore-drill",
        "S5",
        Section.BACKUP,
        "A restore drill at least every 48 hours proving that the latest backup restores.",
    ),
    Claim(
        "retention-settings",
        "S5",
        Section.BACKUP,
        "The retention settings never fall below this statement: backups are configured to be kept "
        "{facts.backup_retention_days} days (never less than {facts.minimum_backup_retention_days}), and an "
        "uninstalled site's data {facts.deletion_grace_days} days.",
        check_retention_settings,
    ),
    Claim(
        "uninstall-ends-account",
        "S6",
        Section.REMOVAL,
        "Uninstalling the app ends your site's account at once: the app stops serving it.",
    ),
    Claim(
        "purge-after-grace",
        "S7",
        Section.REMOVAL,
        "Unrecoverable deletion {facts.deletion_grace_days} days after uninstall: your site's records deleted "
        "and its data key destroyed, so no copy, backups included, can be read again.",
    ),
    Claim(
        "record-retention",
        "S7",
        Section.REMOVAL,
        "Automatic deletion of records older than the retention their app declares for them.",
    ),
    Claim(
        "export",
        "S8",
        Section.PORTABILITY,
        "Export of your site's data on request. (Moving data between Atlassian Cloud and Data Center is not "
        "supported.)",
    ),
    Claim(
        "staff-purpose",
        "S9",
        Section.ACCESS,
        "Staff access to your data only for health monitoring, maintenance or at your request, through "
        "time-limited grants that record the purpose and who approved them.",
    ),
    Claim(
        "staff-audit",
        "S10",
        Section.ACCESS,
        "Access to server data for authorised employees only, every access written to a tamper-evident audit "
        "log that is verified end to end.",
    ),
    Claim(
        "signed-requests",
        "S11",
        Section.SECURITY,
        "Every request from your site to an app is authenticated before the app's code runs: each route names "
        "how its caller proves who it is, and a route without a verifier for that is never served.",
        check_signed_requests,
    ),
    Claim(
        "https-only",
        "S12",
        Section.SECURITY,
        "The server's public address is HTTPS only: outside development mode Pledge refuses to start with a "
        "plain-HTTP address.",
        check_https,
    ),
    Claim(
        "tls-hsts",
        "S12",
        Section.SECURITY,
        "TLS 1.2 or later only, with HSTS (at least one year) and security headers on every response.",
    ),
    Claim(
        "keyring-private",
        "S4",
        Section.SECURITY,
        "Encryption keys are kept apart from the data: each site has its own data key, wrapped by "
        "key-encryption keys held in a keyring file that only the server's account can read.",
        check_keyring_private,
    ),
    Claim(
        "app-data-encrypted",
        "S4",
        Section.SECURITY,
        "App records encrypted field by field (AES-256-GCM) under your site's own data key.",
    ),
    Claim(
        "logs-redacted",
        "S2",
        Section.SECURITY,
        "Tokens, secrets and e-mail addresses are masked in every log line before it is written.",
        check_logs_redacted,
    ),
    Claim(
        "egress-allowlist",
        "S13",
        Section.PRIVACY,
        "Collected data goes to no third party: outbound requests only to your site, Atlassian and declared "
        "sub-processors, through one client that refuses any other destination, every refusal recorded and "
        "explained.",
    ),
    Claim(
        "sub-processors",
        "S13",
        Section.PRIVACY,
        "A published register of sub-processors (name, purpose, countries).",
    ),
    Claim(
        "legal-requests",
        "S13",
        Section.PRIVACY,
        "Disclosure only where the law requires it, each legal request logged and reported to you unless the "
        "law forbids it.",
    ),
)


def claims_in(section: Section, claims: tuple[Claim, ...] = CLAIMS) -> tuple[Claim, ...]:
    return tuple(claim for claim in claims if claim.section is section)
