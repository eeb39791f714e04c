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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from pledge import serving
from pledge.app import App, Auth
from pledge.clock import Clock
from pledge.config import MINIMUM_RETENTION_DAYS, Settings
from pledge.egress.client import origin
from pledge.errors import ConfigurationError, PledgeError
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
    https_required: bool
    """Outside development mode the settings refuse any base URL that is not https."""
    backup_retention_days: int
    minimum_backup_retention_days: int
    deletion_grace_days: int
    egress_destinations: tuple[str, ...]
    """Atlassian's origins the outbound client allows on every call, besides the calling site's own."""
    peer_deployments: tuple[str, ...]
    """Origins of this service's deployments in other regions, the only destinations of a realm migration."""
    forge_realm: str | None
    """The Forge data residency realm this deployment serves; None when its region maps to no realm."""
    tenant_cache_seconds: int
    """How long another server instance may keep serving a site after this one handled its uninstall."""
    apps: tuple[AppFacts, ...]
    undeclared_apps: tuple[str, ...]
    """Keys of served apps that declare no data manifest: the statement cannot describe them."""

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
    return Facts(
        region=settings.region,
        https_required=not settings.dev_mode,
        backup_retention_days=settings.backup_retention_days,
        minimum_backup_retention_days=MINIMUM_RETENTION_DAYS,
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
        forge_realm=_forge_realm(settings),
        tenant_cache_seconds=int(settings.tenant_cache_ttl_seconds),
        apps=tuple(_app_facts(app) for app in apps if isinstance(app, App)),
        undeclared_apps=tuple(_key_of(app) for app in apps if not isinstance(app, App)),
    )


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
        data=app.data,
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

    def verifiers(self, app: App) -> Mapping[Auth, Verifier]:
        """The verifier of each route kind of ``app``, as the host binds them (made once per Deployment)."""
        if app.key not in self._verifiers:
            self._verifiers[app.key] = serving.verifiers_for(app, self.require_runtime())
        return self._verifiers[app.key]

    def sampled_records(self, app: DeclaringApp) -> list[SampledRecord]:
        """A random sample of ``app``'s stored records, opened with their own tenant's key (taken once per Deployment:
        :func:`pledge.statement.verify.verify` gives each run its own copy)."""
        if app.key not in self._samples:
            vault = self.require_runtime().vault
            self._samples[app.key] = sample_records(
                self.engine, vault, app, tenants=SAMPLE_TENANTS, per_collection=SAMPLE_PER_COLLECTION
            )
        return self._samples[app.key]
