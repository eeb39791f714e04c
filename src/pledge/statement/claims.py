"""Every sentence the statement commits to, each with the check that proves it on live evidence (S1..S14).

:data:`CLAIMS` is the one place a promise enters the statement: a capability that lands adds (or completes) its
:class:`Claim` here, with a check. A claim without a check is rendered as **Not yet provided** and reported as
missing by verification, which counts as a failure: the statement never claims more than the system does.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jwt
from sqlalchemy import create_engine, func, inspect, select
from starlette.requests import Request

from pledge import serving
from pledge.app import App, Auth
from pledge.clock import Clock
from pledge.errors import PledgeError, Refused
from pledge.forge.migration import realm_migrations_table
from pledge.forge.requests import ForgeRequestVerifier
from pledge.logs import redact
from pledge.runtime import Runtime
from pledge.statement.facts import SAMPLE_PER_COLLECTION, SAMPLE_TENANTS, Deployment, Facts
from pledge.store import (
    Opened,
    PersonalDataRefused,
    SampledRecord,
    TenantStore,
    UndeclaredData,
    store_evidence,
)
from pledge.store.manifest import Category, Collection, DataManifest, Field
from pledge.store.pii import scan_value
from pledge.store.tables import INDEX_COLUMNS, records_table
from pledge.tenants import Tenant, TenantNotFound, TenantState, stored_fields
from pledge.trust.connect import ConnectVerifier, app_base_url
from pledge.trust.forge import Invocation
from pledge.trust.identity import Verifier
from pledge.trust.qsh import query_string_hash
from pledge.vault import Vault, WrappedKey

T = TypeVar("T")


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

# What S4 allows a store record's row to hold besides its ciphertext: metadata Pledge chose and keyed blind-index
# digests, never a value an app wrote (docs/storage-format.md). A column outside this set would be app data in clear.
RECORD_ROW_COLUMNS = frozenset(
    {"tenant_id", "app_key", "collection", "id", "key_version", "revision", "payload", "created_at", "updated_at"}
) | frozenset(INDEX_COLUMNS)
_RECORD_ROW = (
    f"{records_table.name} has no column besides ids, times, revision, key version, blind-index digests and ciphertext"
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


def check_data_residency(deployment: Deployment, facts: Facts) -> Evidence:
    """The deployment's realm is the stated one, and every site moved to another realm left nothing here."""
    settings = deployment.settings
    try:
        realm: str | None = settings.resolved_forge_region
    except PledgeError:
        realm = None
    if realm != facts.forge_realm:
        return Evidence(False, f"the statement says realm {facts.forge_realm_text}, the deployment serves {realm}")
    if realm is None:
        return Evidence(False, f"the region {settings.region} is in no Forge realm: set PLEDGE_FORGE_REGION")
    migrations = realm_migrations_table.c
    with deployment.engine.connect() as connection:
        moves = connection.execute(
            select(migrations.tenant_id, migrations.role, migrations.app_key, migrations.installation_id)
            .where(migrations.state == "COMMITTED")
            .order_by(migrations.updated_at, migrations.created_at)
        ).all()
        # A site that moved away and later came back is here again: only its latest committed move counts.
        latest = {move.tenant_id: move for move in moves}
        departed = sorted(tenant_id for tenant_id, move in latest.items() if move.role == "source")
        left_records = connection.execute(
            select(func.count()).where(records_table.c.tenant_id.in_(departed))
        ).scalar_one()
    runtime = deployment.require_runtime()
    left_sites = sum(1 for tenant_id in departed if _still_registered(runtime, tenant_id))
    left_keys = sum(1 for tenant_id in departed if runtime.vault.has_keys(tenant_id))
    moved = _plural(len(departed), "site")
    if left_sites or left_keys or left_records:
        return Evidence(
            False,
            f"of {moved} moved to another realm, this deployment still holds {_plural(left_sites, 'site record')}, "
            f"the data keys of {_plural(left_keys, 'site')} and {_plural(left_records, 'stored record')}",
        )
    codes = _probe_departed(deployment, [latest[tenant_id] for tenant_id in departed][:UNINSTALL_PROBES])
    if set(codes) - {"pinned_elsewhere"}:
        listed = ", ".join(sorted(code or "served" for code in codes if code != "pinned_elsewhere"))
        return Evidence(False, f"a Forge call for a site moved to another realm was not refused as pinned: {listed}")
    probed = f"; {codes.total()} of them probed: refused (pinned_elsewhere)" if codes else ""
    return Evidence(True, f"serves Forge realm {realm} from {settings.region}; {moved} moved away: none left{probed}")


def _probe_departed(deployment: Deployment, moves: list[Any]) -> Counter[str | None]:
    """Ask the Forge verifier of each moved-away site's app to admit it: it must answer that it is pinned elsewhere."""
    runtime = deployment.require_runtime()
    apps = {app.key: app for app in _served_apps(deployment) if app.forge is not None}
    codes: Counter[str | None] = Counter()
    for move in moves:
        app = apps.get(move.app_key)
        forge = serving.verifiers_for(app, runtime).get(Auth.FORGE) if app is not None else None
        if isinstance(forge, ForgeRequestVerifier):
            codes[_forge_probe(forge, runtime, move.installation_id)] += 1
    return codes


def _still_registered(runtime: Runtime, tenant_id: str) -> bool:
    try:
        runtime.tenants.get(tenant_id)
    except TenantNotFound:
        return False
    return True


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


# The verifier the statement describes for each kind of route: Connect JWT + QSH, and the Forge Invocation Token.
_STATED_VERIFIERS: dict[Auth, type] = {
    Auth.CONNECT: ConnectVerifier,
    Auth.CONNECT_CONTEXT: ConnectVerifier,
    Auth.FORGE: ForgeRequestVerifier,
}


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
        verifiers = serving.verifiers_for(app, runtime)
        unverified = sorted(kind.value for kind in kinds if kind is not Auth.PUBLIC and kind not in verifiers)
        if unverified:
            problems.append(f"{app.key}: no verifier for {', '.join(unverified)} routes")
        substituted = sorted(
            kind.value
            for kind, expected in _STATED_VERIFIERS.items()
            if kind in kinds and kind in verifiers and not isinstance(verifiers[kind], expected)
        )
        if substituted:
            problems.append(f"{app.key}: {', '.join(substituted)} routes are not verified as the statement says")
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


def _served_apps(deployment: Deployment) -> list[App]:
    return [app for app in deployment.apps if isinstance(app, App)]


def _sampled(deployment: Deployment) -> list[tuple[App, SampledRecord]]:
    return [(app, record) for app in _served_apps(deployment) for record in deployment.sampled_records(app)]


def _sample_size(sample: list[tuple[App, SampledRecord]]) -> str:
    sites = len({(app.key, record.tenant_id) for app, record in sample})
    return f"{_plural(len(sample), 'sampled record')} of {_plural(sites, 'site')}"


class _NoKeys:
    """The keyring of the guard probe: a write the guard refuses never needs a key, so any use is a failure."""

    @property
    def current_kek_id(self) -> str:
        raise PledgeError("the store guard let a probe write through to encryption")

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        raise PledgeError("the store guard let a probe write through to encryption")

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        raise PledgeError("the store guard let a probe write through to encryption")

    def rotate(self) -> str:
        raise PledgeError("the store guard let a probe write through to encryption")


_PROBE_MANIFEST = DataManifest(
    (Collection("probe", "Written by verification only", (Field("note", Category.CONTENT, "A probe value"),)),)
)
_GUARD_PROBES: tuple[tuple[str, str, dict[str, Any], type[PledgeError]], ...] = (
    ("an undeclared collection", "undeclared", {"note": "probe"}, UndeclaredData),
    ("an undeclared field", "probe", {"undeclared": "probe"}, UndeclaredData),
    ("an e-mail address in a content field", "probe", {"note": "mail probe.person@example.com"}, PersonalDataRefused),
)


def _guard_failures(clock: Clock) -> list[str]:
    """Writes the store must refuse, tried on a throwaway in-memory database: nothing can reach the real one."""
    engine = create_engine("sqlite://")
    store = TenantStore(
        engine,
        Vault(engine, _NoKeys(), clock),
        clock,
        app_key="pledge-probe",
        manifest=_PROBE_MANIFEST,
        tenant_id="0" * 32,
    )
    failures = []
    try:
        for what, collection, values, refusal in _GUARD_PROBES:
            try:
                store.create(collection, values)
            except refusal:
                continue
            except Exception:  # the guard let it through and the empty database stopped it: still not refused
                failures.append(f"the store did not refuse {what}")
                continue
            failures.append(f"the store accepted {what}")
    finally:
        engine.dispose()
    return failures


def check_stored_data_declared(deployment: Deployment, facts: Facts) -> Evidence:
    """The store's guard refuses probe writes; no records in undeclared collections; in a sample of records, no
    undeclared field and no PII outside the fields declared personal data (the same detector as the guard)."""
    guard = _guard_failures(deployment.clock)
    if guard:
        return Evidence(False, "; ".join(guard))
    apps = _served_apps(deployment)
    refused = "a probe store refused " + ", ".join(what for what, *_ in _GUARD_PROBES[:-1])
    refused += f" and {_GUARD_PROBES[-1][0]}"
    if not apps:
        return Evidence(True, f"{refused}; no apps are served")
    problems = [
        f"{evidence.app_key}: {_plural(collection.records, 'record')} in undeclared collection {collection.name}"
        for evidence in store_evidence(deployment.engine, apps)
        for collection in evidence.undeclared
    ]
    sample = _sampled(deployment)
    findings: Counter[str] = Counter()
    unopened = 0
    for app, record in sample:
        if record.opened is not Opened.OPENED:
            unopened += 1
            continue
        declared = app.data.collection(record.collection)
        for name, value in record.values.items():
            declared_field = declared.field(name) if declared is not None else None
            where = f"{app.key}: {record.collection}.{name}"
            if declared_field is None:
                findings[f"{where} is stored but not declared"] += 1
            elif declared_field.category is not Category.PERSONAL:
                finding = scan_value(value)
                if finding is not None:
                    category = declared_field.category.value
                    findings[f"{where} ({category}) holds what looks like personal data ({finding.kind.value})"] += 1
    problems += [f"{finding} in {_plural(count, 'sampled record')}" for finding, count in sorted(findings.items())]
    if problems:
        return Evidence(False, "; ".join(problems))
    personal = sum(len(app.fields_of(Category.PERSONAL)) for app in facts.apps)
    unread = f"; {unopened} could not be opened (see app-data-encrypted)" if unopened else ""
    return Evidence(
        True,
        f"{refused}; no records in undeclared collections; {_sample_size(sample)}: every stored field declared, "
        f"no personal data outside the {_plural(personal, 'field')} declared personal data{unread}",
    )


def check_records_encrypted(deployment: Deployment, facts: Facts) -> Evidence:
    """The record table has no column beyond ids, times and the ciphertext; each sampled payload opens with its own
    tenant's data key and the associated data of its collection and id."""
    columns = {column["name"] for column in inspect(deployment.engine).get_columns(records_table.name)}
    extra = sorted(columns - RECORD_ROW_COLUMNS)
    if extra:
        return Evidence(False, f"the {records_table.name} table also has the columns: {', '.join(extra)}")
    sample = _sampled(deployment)
    if not sample:
        return Evidence(True, f"{_RECORD_ROW}; no app records are stored")
    invalid: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for app, record in sample:
        where = f"{app.key}/{record.collection}"
        totals[where] += 1
        if record.opened is Opened.INVALID:
            invalid[where] += 1
    if invalid:
        listed = "; ".join(
            f"{where}: {count} of {_plural(totals[where], 'sampled record')} not a ciphertext of its own site, "
            "collection and id"
            for where, count in sorted(invalid.items())
        )
        return Evidence(False, listed)
    shredded = sum(1 for _, record in sample if record.opened is Opened.SHREDDED)
    destroyed = f"; {_plural(shredded, 'record')} of crypto-shredded sites unreadable" if shredded else ""
    return Evidence(
        True,
        f"{_RECORD_ROW}; {_sample_size(sample)}: each opened under its own site's data key, bound to its collection "
        f"and id{destroyed}",
    )


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a check, which is synchronous even when called from inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _probe(verifier: Verifier, runtime: Runtime, app: App, tenant: Tenant) -> str | None:
    """Send ``verifier`` a request signed with the tenant's own secret; None if it was served, else the refusal code."""
    base_path = urlsplit(app_base_url(runtime, app.key)).path
    path = f"{base_path}/"
    now = int(runtime.clock.now().timestamp())
    claims = {
        "iss": tenant.client_key,
        "iat": now,
        "exp": now + 60,
        "qsh": query_string_hash("GET", path, context_path=base_path),
    }
    token = jwt.encode(claims, runtime.tenants.shared_secret(tenant.id), algorithm="HS256")
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"authorization", f"JWT {token}".encode())],
    }
    try:
        await verifier(Request(scope))
    except Refused as refused:
        return refused.code
    return None


def _forge_probe(verifier: ForgeRequestVerifier, runtime: Runtime, installation_id: str) -> str | None:
    """Ask the Forge verifier to admit an installation as it does after a valid FIT; None if admitted, else the
    refusal code."""
    invocation = Invocation(
        app_id=verifier.config.app_id,
        installation_id=installation_id,
        api_base_url=runtime.settings.atlassian_api_url,
        cloud_id=None,
        site_url=None,
        principal=None,
        module_type=None,
        module_key=None,
        license_active=None,
        jti="pledge-statement-probe",
        expires_at=runtime.clock.now() + timedelta(minutes=1),
        claims={},
    )
    try:
        verifier.resolve(invocation)
    except Refused as refused:
        return refused.code
    return None


UNINSTALL_PROBES = 20
"""At most this many uninstalled sites per app are probed in one verification."""

_PROBE_KINDS = {
    "Connect": "a request signed with the site's own shared secret",
    "Forge": "the tenant admission that follows a valid FIT",
}


def check_uninstalled_not_served(deployment: Deployment, facts: Facts) -> Evidence:
    """Uninstalled sites are probed: Connect with a request signed by the site's own secret through the real
    verifier, Forge through the verifier's tenant admission (a FIT cannot be minted here). Each must be refused."""
    apps = _served_apps(deployment)
    if not apps:
        return Evidence(True, "no apps are served")
    runtime = deployment.require_runtime()
    problems: list[str] = []
    counts: Counter[str] = Counter()
    for app in apps:
        uninstalled = runtime.tenants.list(app_key=app.key, states=[TenantState.UNINSTALLED])[:UNINSTALL_PROBES]
        if not uninstalled:
            continue
        verifiers = serving.verifiers_for(app, runtime)
        forge = verifiers.get(Auth.FORGE)
        codes: Counter[str | None] = Counter()
        for tenant in uninstalled:
            if tenant.client_key is not None:
                counts["Connect"] += 1
                codes[_run(_probe(verifiers[Auth.CONNECT], runtime, app, tenant))] += 1
            if tenant.installation_id is not None and isinstance(forge, ForgeRequestVerifier):
                counts["Forge"] += 1
                codes[_forge_probe(forge, runtime, tenant.installation_id)] += 1
        if codes[None]:
            served = f"{codes[None]} of {_plural(codes.total(), 'probe')}"
            problems.append(f"{app.key}: {served} of uninstalled sites served")
        others = sorted(code for code in codes if code is not None and code != "tenant_inactive")
        if others:
            listed = ", ".join(others)
            problems.append(f"{app.key}: the probe was refused for another reason ({listed}), proving nothing")
    if problems:
        return Evidence(False, "; ".join(problems))
    if not counts:
        return Evidence(True, "no site is uninstalled: nothing to probe")
    probes = "; ".join(f"{_plural(counts[kind], kind + ' probe')} ({_PROBE_KINDS[kind]})" for kind in sorted(counts))
    return Evidence(True, f"uninstalled sites: {probes}; each refused (tenant_inactive)")


EGRESS_PROBE = "https://egress-probe.invalid"


def check_egress_allowlist(deployment: Deployment, facts: Facts) -> Evidence:
    """The outbound client allows no origin beyond the stated ones, and refuses a probe destination."""
    egress = deployment.require_runtime().egress
    extra = sorted(egress.allowed - set(facts.egress_destinations) - set(facts.peer_deployments))
    if extra:
        return Evidence(False, f"the outbound client also allows {', '.join(extra)}")
    if egress.allows(EGRESS_PROBE):
        return Evidence(False, f"the outbound client allows the probe destination {EGRESS_PROBE}")
    return Evidence(
        True,
        f"the outbound client allows {', '.join(sorted(egress.allowed)) or 'no fixed origin'} and, per call, the "
        f"calling site; a probe to {EGRESS_PROBE} was refused; {_plural(egress.refusals, 'refusal')} counted by "
        "this process",
    )


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
        "data-residency",
        "S1",
        Section.STORAGE,
        "Data residency: this deployment serves Atlassian's **{facts.forge_realm_text}** data residency realm, "
        "and a Forge app refuses requests for a site whose data is pinned to another region. When Atlassian "
        "moves your site to another realm, its data goes sealed (AES-256-GCM) only to this service's deployment "
        "there, and once the move is committed nothing of it (site record, data keys, stored records) is left "
        "here.",
        check_data_residency,
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
        "Those declarations are enforced: the store refuses to write a collection or field its app does not "
        "declare, and refuses any value that looks like personal data (an e-mail address, phone number, payment "
        "card number, IBAN or Atlassian account ID) in a field not declared as personal data. Each verification "
        "finds no records in an undeclared collection and opens a random sample of stored records (up to "
        f"{SAMPLE_PER_COLLECTION} per collection for each of up to {SAMPLE_TENANTS} sites per app) to find no "
        "undeclared field and no such value outside the fields declared personal data.",
        check_stored_data_declared,
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
        "Uninstalling the app ends your site's account at once: from the signed uninstall notice on, the app "
        "refuses every request from your site (any other server instance within {facts.tenant_cache_seconds} "
        "seconds). This does not delete your site's stored data: see below.",
        check_uninstalled_not_served,
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
        "how its caller proves who it is, and a route without a verifier for that is never served. Connect "
        "requests carry a JWT signed with your site's shared secret and bound to the request (QSH); Forge calls "
        "carry a Forge Invocation Token, verified with RS256 against Atlassian's published keys and addressed to "
        "the app's own Forge id.",
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
        "Every app record is stored as one AES-256-GCM ciphertext under your site's own data key: the field "
        "names are sealed inside it with the values, and it is bound to your site, the app's collection, the "
        "record and the key version, so it cannot be read with another site's key or moved to another record. "
        "Besides the ciphertext, a record's row holds only its ids, collection name, times, revision, key "
        "version and, for fields the app marks as searchable, keyed digests (HMAC-SHA256 under a key derived from "
        "your site's data key) that match equal values without revealing them.",
        check_records_encrypted,
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
        "The requests this service sends to your site and to Atlassian go through one outbound client that "
        "allows only your site (for calls made on its behalf), Atlassian ({facts.egress_destinations_text}) and "
        "this service's own deployments in other regions ({facts.peer_deployments_text}; used only to move your "
        "site's data when Atlassian changes its data residency realm), and refuses any other destination before "
        "a byte is sent; each refusal is logged and counted by the "
        "server process that refused it.",
        check_egress_allowlist,
    ),
    Claim(
        "egress-refusals-recorded",
        "S13",
        Section.PRIVACY,
        "Collected data goes to no third party: no outbound request bypasses that client, and every refusal is "
        "kept in a durable record and explained.",
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
