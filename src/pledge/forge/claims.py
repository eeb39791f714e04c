"""Forge's claims and probes: the deployment serves its stated data residency realm, refuses a site pinned to
another realm, and leaves nothing of a site moved away (S1); Forge routes are behind the FIT verifier and an
uninstalled site is refused by it (S6, S11, composed with Connect's in :mod:`pledge.statement.verifier_claims`).

The checks read Forge's own table of realm migrations, and ask the registry, the vault and the store what they
still hold of a site, through their public functions. The Forge verifier a probe puts to work is handed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select

from pledge.app import App, Auth
from pledge.config import Settings
from pledge.errors import ConfigurationError, PledgeError, Refused
from pledge.forge.migration import realm_migrations_table, transfer_seal
from pledge.forge.requests import ForgeRequestVerifier
from pledge.promises import Claim, Evidence, Section, plural
from pledge.runtime import Runtime
from pledge.store.evidence import records_of
from pledge.tenants import TenantNotFound
from pledge.trust.forge_fit import Invocation
from pledge.trust.identity import Verifier

STATED_VERIFIERS: dict[Auth, type] = {Auth.FORGE: ForgeRequestVerifier}
"""The verifier the statement describes for Forge routes: the FIT, RS256 against Forge's JWKS."""

UNINSTALL_PROBE = "the tenant admission that follows a valid FIT"
"""What :func:`probe_admission` asks, as the evidence describes it (a FIT cannot be minted here)."""

DEPARTED_PROBES = 20
"""At most this many sites moved to another realm are probed in one verification."""


def probe_admission(verifier: Verifier, runtime: Runtime, installation_id: str) -> str | None:
    """Ask the app's Forge verifier to admit an installation as it does after a valid FIT; None if admitted, else
    the refusal code ("not_forge" when ``verifier`` is not the Forge verifier the statement describes)."""
    if not isinstance(verifier, ForgeRequestVerifier):
        return "not_forge"
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


class ServingForge(Protocol):
    """The deployment as the data residency check reads it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def served_apps(self) -> Sequence[App]: ...

    def require_runtime(self) -> Runtime: ...

    def verifiers(self, app: App) -> Mapping[Auth, Verifier]:
        """The verifier of each route kind of ``app``, as the host serves it."""
        ...


class StatedRealm(Protocol):
    @property
    def forge_realm(self) -> str | None: ...

    @property
    def realm_migration(self) -> bool: ...

    @property
    def peer_deployments(self) -> Sequence[str]: ...

    @property
    def forge_realm_text(self) -> str: ...


def _departed(engine: Engine) -> dict[str, Any]:
    """The latest committed move of each site whose latest committed move took it to another realm."""
    migrations = realm_migrations_table.c
    with engine.connect() as connection:
        moves = connection.execute(
            select(migrations.tenant_id, migrations.role, migrations.app_key, migrations.installation_id)
            .where(migrations.state == "COMMITTED")
            .order_by(migrations.updated_at, migrations.created_at)
        ).all()
    # A site that moved away and later came back is here again: only its latest committed move counts.
    latest = {move.tenant_id: move for move in moves}
    return {tenant_id: move for tenant_id, move in sorted(latest.items()) if move.role == "source"}


def _registered(runtime: Runtime, tenant_id: str) -> bool:
    try:
        runtime.tenants.get(tenant_id)
    except TenantNotFound:
        return False
    return True


def _probe_departed(deployment: ServingForge, moves: list[Any]) -> Counter[str | None]:
    """Ask the Forge verifier of each moved-away site's app to admit it: it must answer that it is pinned elsewhere."""
    runtime = deployment.require_runtime()
    apps = {app.key: app for app in deployment.served_apps if app.forge is not None}
    codes: Counter[str | None] = Counter()
    for move in moves:
        app = apps.get(move.app_key)
        forge = deployment.verifiers(app).get(Auth.FORGE) if app is not None else None
        if isinstance(forge, ForgeRequestVerifier):
            codes[probe_admission(forge, runtime, move.installation_id)] += 1
    return codes


def check_data_residency(deployment: ServingForge, facts: StatedRealm) -> Evidence:
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
    runtime = deployment.require_runtime()
    unreachable = sorted(peer for peer in facts.peer_deployments if not runtime.egress.allows(peer))
    if unreachable:
        return Evidence(False, f"the outbound client refuses the peer deployments {', '.join(unreachable)}")
    try:
        transfer_seal(runtime)
    except ConfigurationError as exc:
        return Evidence(False, str(exc))
    departed = _departed(deployment.engine)
    left_records = records_of(deployment.engine, list(departed))
    left_sites = sum(1 for tenant_id in departed if _registered(runtime, tenant_id))
    left_keys = sum(1 for tenant_id in departed if runtime.vault.has_keys(tenant_id))
    moved = plural(len(departed), "site")
    if left_sites or left_keys or left_records:
        return Evidence(
            False,
            f"of {moved} moved to another realm, this deployment still holds {plural(left_sites, 'site record')}, "
            f"the data keys of {plural(left_keys, 'site')} and {plural(left_records, 'stored record')}",
        )
    codes = _probe_departed(deployment, list(departed.values())[:DEPARTED_PROBES])
    if set(codes) - {"pinned_elsewhere"}:
        listed = ", ".join(sorted(code or "served" for code in codes if code != "pinned_elsewhere"))
        return Evidence(False, f"a Forge call for a site moved to another realm was not refused as pinned: {listed}")
    probed = f"; {codes.total()} of them probed: refused (pinned_elsewhere)" if codes else ""
    peers = ", ".join(facts.peer_deployments)
    return Evidence(
        True,
        f"serves Forge realm {realm} from {settings.region}; peers {peers} allowed, transfer key usable; "
        f"{moved} moved away: none left{probed}",
    )


DATA_RESIDENCY: Claim[ServingForge, StatedRealm] = Claim(
    "data-residency",
    "S1",
    Section.STORAGE,
    "Data residency: this deployment serves Atlassian's **{facts.forge_realm_text}** data residency realm, "
    "and a Forge app refuses requests for a site whose data is pinned to another region. When Atlassian "
    "moves your site to another realm, its data goes sealed (AES-256-GCM) only to this service's deployment "
    "there, and once the move is committed nothing of it (site record, data keys, stored records) is left "
    "here.",
    check_data_residency,
    applies=lambda facts: facts.realm_migration,
    not_offered="Data residency moves: this deployment takes no part in Atlassian's realm migration. It serves "
    "one region, and a site Atlassian moves to another data residency realm is not followed there by this "
    "service.",
)

CLAIMS: tuple[Claim[ServingForge, StatedRealm], ...] = (DATA_RESIDENCY,)
"""Forge's own claims; :mod:`pledge.statement.claims` places them in the statement."""
