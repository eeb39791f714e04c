"""What the statement states and what its checks read, gathered through the other packages' public functions.

:class:`Facts` is everything the rendered text depends on: settings and the apps' data manifests, nothing that
changes while the deployment runs (tenant counts, times), so the text changes only when a promise does (S1..S14).
:class:`Deployment` is the live evidence a check reads: the settings, the database, the served apps and their
verifiers as the host binds them, and a sample of stored records opened through the vault (each taken once per
verification run, shared by the checks that read it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pledge import serving
from pledge.app import App, Auth
from pledge.backup.backups import Backups
from pledge.clock import Clock
from pledge.config import Settings
from pledge.egress.client import origin
from pledge.egress.sub_processors import SubProcessor, declared_by_deployment
from pledge.errors import ConfigurationError, PledgeError
from pledge.hosting import engine_name
from pledge.store import SampledRecord, sample_records
from pledge.store.claims import SAMPLE_PER_COLLECTION, SAMPLE_TENANTS
from pledge.store.data_manifest import Category, Collection, DataManifest
from pledge.store.evidence import DeclaringApp

if TYPE_CHECKING:
    from pledge.runtime import Runtime
    from pledge.trust.identity import Verifier


@dataclass(frozen=True, slots=True)
class AppFacts:
    """One served app as its manifest declares it."""

    key: str
    name: str
    description: str
    vendor_name: str
    vendor_url: str
    product: str
    data: DataManifest
    forge: bool
    """Served as a Forge Remote (Forge data residency applies to it)."""
    scopes: tuple[str, ...]
    """The product API scopes the app asks for at installation: what it can read and change through the API."""
    events: tuple[str, ...]
    """The product events delivered to it (Connect webhooks and Forge triggers), each with the data it carries."""
    sub_processors: tuple[SubProcessor, ...]
    """The third parties the app sends data to, as it declares them (the only hosts beyond Atlassian it reaches)."""

    @property
    def collections(self) -> tuple[Collection, ...]:
        return self.data.collections

    def fields_of(self, category: Category) -> tuple[str, ...]:
        """``collection.field`` names of every field in ``category``."""
        return tuple(
            f"{collection.name}.{field.name}"
            for collection in self.data.collections
            for field in collection.fields
            if field.category is category
        )


@dataclass(frozen=True, slots=True)
class Facts:
    region: str
    region_name: str
    """The region as its provider names it for readers, e.g. US West (Oregon)."""
    hosting_provider: str | None
    """Who hosts the deployment, as declared (``PLEDGE_HOSTING_PROVIDER``); None when not declared."""
    database_engine: str
    database_networks: tuple[str, ...]
    """Where a PostgreSQL server may answer from, as declared; empty: on the server's own host."""
    keyring_placement: str
    """Where the keyring is, next to the database: ``beside`` (the SQLite file's directory), ``same-host`` (a
    database on the server's own host) or ``apart``."""
    backup_retention_days: int
    deletion_grace_days: int
    egress_destinations: tuple[str, ...]
    """Atlassian's origins the outbound client allows on every call, besides the calling site's own."""
    peer_deployments: tuple[str, ...]
    """Origins of this service's deployments in other regions, the only destinations of a realm migration."""
    forge_realm: str | None
    """The Forge data residency realm this deployment serves; None when its region maps to no realm."""
    realm_migration: bool
    """A Forge app is served, its realm is known, and peer deployments and the transfer key are configured: what
    Atlassian's data residency moves need."""
    tenant_change_seconds: int
    """How long another server instance may keep serving a site after this one handled its uninstall: the tenant
    changes poll plus one query, rounded up to a whole second above it."""
    apps: tuple[AppFacts, ...]
    sub_processors: tuple[SubProcessor, ...]
    """The service's own sub-processors, beside each app's (``PLEDGE_SUB_PROCESSORS``)."""
    undeclared_apps: tuple[str, ...]
    """Keys of served apps that declare no data manifest: the statement cannot describe them."""

    @property
    def hosting_text(self) -> str:
        region = f"the **{self.region_name}** region (`{self.region}`)"
        if self.hosting_provider is None:
            return f"in {region}; the hosting provider is not declared"
        return f"by **{self.hosting_provider}** in {region}"

    @property
    def database_text(self) -> str:
        if self.database_engine == "SQLite":
            return "its database is a SQLite file on the server's own disk"
        if self.database_networks:
            return (
                f"its database is a {self.database_engine} server in the deployment's own network "
                f"({', '.join(self.database_networks)})"
            )
        return f"its database is a {self.database_engine} server on the server's own host"

    @property
    def keyring_text(self) -> str:
        return _KEYRING_PLACEMENTS[self.keyring_placement]

    @property
    def egress_destinations_text(self) -> str:
        return ", ".join(self.egress_destinations)

    @property
    def peer_deployments_text(self) -> str:
        return ", ".join(self.peer_deployments) or "none configured"

    @property
    def forge_realm_text(self) -> str:
        return self.forge_realm or "none (its region is in no Forge realm)"

    def app(self, key: str) -> AppFacts | None:
        return next((app for app in self.apps if app.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def gather(settings: Settings, apps: Sequence[object]) -> Facts:
    """The facts of a deployment configured by ``settings`` serving ``apps``."""
    served = tuple(_app_facts(app) for app in apps if isinstance(app, App))
    realm = _forge_realm(settings)
    return Facts(
        region=settings.region,
        region_name=settings.resolved_region_name,
        hosting_provider=settings.hosting_provider_name,
        database_engine=engine_name(make_url(settings.resolved_database_url).drivername),
        database_networks=settings.database_networks,
        keyring_placement=_keyring_placement(settings),
        backup_retention_days=settings.backup_retention_days,
        deletion_grace_days=settings.deletion_grace_days,
        egress_destinations=tuple(
            sorted(
                {
                    origin(settings.atlassian_api_url),
                    origin(settings.connect_install_keys_url),
                    origin(settings.forge_jwks_url),
                    *(origin(url) for url in filter(None, [settings.forge_staging_jwks_url])),
                }
            )
        ),
        peer_deployments=tuple(sorted({origin(url) for url in settings.forge_peers.values()})),
        forge_realm=realm,
        realm_migration=bool(
            realm is not None
            and any(app.forge for app in served)
            and settings.forge_peers
            and settings.forge_transfer_key is not None
        ),
        tenant_change_seconds=int(settings.tenant_changes_poll_seconds) + 1,
        apps=served,
        sub_processors=declared_by_deployment(settings),
        undeclared_apps=tuple(_key_of(app) for app in apps if not isinstance(app, App)),
    )


_KEYRING_PLACEMENTS = {
    "beside": "The keyring file sits beside the database file, in the same directory: a copy of that directory "
    "holds both the keys and the data.",
    "same-host": "The keyring file is on the same machine as the database: a copy of that machine's disks holds "
    "both the keys and the data.",
    "apart": "The keyring is kept apart from the data: not on the filesystem, or the host, that holds the database.",
}


def _keyring_placement(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url)
    if url.drivername.startswith("sqlite"):
        keyring = settings.resolved_keyring_path.resolve().parent
        return "beside" if url.database and keyring == Path(url.database).resolve().parent else "apart"
    local = url.host is None or url.host == "localhost" or url.host.startswith("127.") or url.host == "::1"
    return "same-host" if local else "apart"


def _forge_realm(settings: Settings) -> str | None:
    try:
        return settings.resolved_forge_region
    except ConfigurationError:
        return None


def _app_facts(app: App) -> AppFacts:
    return AppFacts(
        key=app.key,
        name=app.name,
        description=app.description,
        vendor_name=app.vendor_name,
        vendor_url=app.vendor_url,
        product=app.product.value,
        forge=app.forge is not None,
        scopes=tuple(sorted(set(app.scopes))),
        events=tuple(sorted({webhook.event for webhook in app.webhooks} | set(app.forge.events if app.forge else ()))),
        data=app.data,
        sub_processors=app.sub_processors,
    )


def _key_of(app: object) -> str:
    return str(getattr(app, "key", type(app).__name__))


class EvidenceUnavailable(PledgeError):
    """A check needs a part of the deployment that could not be opened."""


@dataclass(frozen=True)
class Deployment:
    """The running deployment, as the checks read it (each check declares, as a protocol, the part it reads).

    ``runtime`` is None when it could not be opened (a keyring with loose permissions refuses to load): the
    checks that need it then fail with ``runtime_error`` as their evidence, the others still run.
    """

    settings: Settings
    engine: Engine
    clock: Clock
    apps: tuple[object, ...]
    runtime: Runtime | None = None
    runtime_error: str = ""
    _samples: dict[str, list[SampledRecord]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _verifiers: dict[str, Mapping[Auth, Verifier]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, runtime: Runtime, apps: Sequence[object]) -> Deployment:
        return cls(runtime.settings, runtime.engine, runtime.clock, tuple(apps), runtime)

    @property
    def served_apps(self) -> tuple[App, ...]:
        """The served apps that are Pledge apps (declaring their routes and data)."""
        return tuple(app for app in self.apps if isinstance(app, App))

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise EvidenceUnavailable(f"the runtime could not start: {self.runtime_error}")
        return self.runtime

    def backups(self) -> Backups:
        """The deployment's backups, in the target its settings name."""
        return serving.backups_for(self.require_runtime())

    def verifiers(self, app: App) -> Mapping[Auth, Verifier]:
        """The verifier of each route kind of ``app``, as the host binds them (made once per Deployment)."""
        if app.key not in self._verifiers:
            self._verifiers[app.key] = serving.verifiers_for(app, self.require_runtime())
        return self._verifiers[app.key]

    def transparency_views(self, app: App) -> Mapping[str, Auth]:
        """The paths of ``app``'s transparency view (legal requests) as the host mounts them, with their auth."""
        return serving.transparency_views(app, self.verifiers(app))

    def sampled_records(self, app: DeclaringApp) -> list[SampledRecord]:
        """A random sample of ``app``'s stored records, opened with their own tenant's key (taken once per Deployment:
        :func:`pledge.statement.verify.verify` gives each run its own copy)."""
        if app.key not in self._samples:
            vault = self.require_runtime().vault
            self._samples[app.key] = sample_records(
                self.engine, vault, app, tenants=SAMPLE_TENANTS, per_collection=SAMPLE_PER_COLLECTION
            )
        return self._samples[app.key]
