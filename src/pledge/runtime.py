"""The running system's parts, wired once from settings and handed to the host, the CLI and the tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from pledge.app_state import AppStates
from pledge.backup.s3_location import S3Location
from pledge.clock import Clock, SystemClock
from pledge.config import ENV_PREFIX, Settings
from pledge.db import open_engine
from pledge.egress import OutboundClient
from pledge.egress.refusal_counts import RefusalCounts
from pledge.errors import ConfigurationError, PledgeError
from pledge.retention import DeletionConfirmation, DeletionRequests
from pledge.store import TenantStore
from pledge.store.async_store import store_threads
from pledge.store.tables import RECORD_ROWS
from pledge.tenantdata import TenantDataSet
from pledge.tenants import Tenant, TenantRegistry
from pledge.tenants.registry import TENANT_ROWS
from pledge.trust.install_keys import InstallKeys
from pledge.trust.tenant_cache import ConnectTenantCache
from pledge.trust.tenant_changes import TenantChangeWatcher
from pledge.vault import LocalKeyring, Vault

if TYPE_CHECKING:
    from pledge.app import App

DATA_DIR_MODE = 0o700


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    vault: Vault
    tenants: TenantRegistry
    egress: OutboundClient
    install_keys: InstallKeys
    connect_tenants: ConnectTenantCache
    store_threads: ThreadPoolExecutor = field(repr=False)
    """Where handlers' store calls and the tenant cache's loads run (see :mod:`pledge.store.async_store`)."""
    closed: bool = field(default=False, init=False)
    app_states: AppStates = field(default_factory=AppStates, init=False, repr=False)
    """What the runtime keeps for each app between requests (see :mod:`pledge.app_state`)."""
    tenant_data: TenantDataSet = field(init=False, repr=False)
    """Everything a tenant owns, exported, imported or deleted as one (see :mod:`pledge.tenantdata`)."""
    tenant_changes: TenantChangeWatcher = field(init=False, repr=False)
    """Fills the tenant cache at the first poll, then forgets cached tenants that other instances changed (see
    :mod:`pledge.trust.tenant_changes`)."""

    def __post_init__(self) -> None:
        self.tenant_changes = TenantChangeWatcher(
            self.tenants, self.connect_tenants, preload=self.settings.tenant_preload
        )
        self.tenant_data = TenantDataSet(self.engine, [*TENANT_ROWS, self.vault.tenant_keys(), RECORD_ROWS])

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        egress: OutboundClient | None = None,
    ) -> Runtime:
        """Wire the parts; nothing here touches the network, and the schema is not migrated (see pledge.schema)."""
        create_data_dir(settings.data_dir)
        clock = clock or SystemClock()
        engine = engine or open_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
        vault = Vault(engine, LocalKeyring(settings.resolved_keyring_path), clock, cache_size=settings.key_cache_size)
        tenants = TenantRegistry(engine, clock, vault, region=settings.region)
        backup_bucket = S3Location.from_settings(settings)
        egress = egress or OutboundClient(
            [
                settings.connect_install_keys_url,
                settings.atlassian_api_url,
                settings.forge_jwks_url,
                *filter(None, [settings.forge_staging_jwks_url]),
                *settings.forge_peers.values(),
                *([backup_bucket.origin] if backup_bucket else []),  # boto3 checks each request against this list
            ],
            # A key server that cannot be reached is the first thing an operator of `pledge sim` meets: the
            # failure's log line names the setting to change.
            sources={
                settings.connect_install_keys_url: f"{ENV_PREFIX}CONNECT_INSTALL_KEYS_URL",
                settings.forge_jwks_url: f"{ENV_PREFIX}FORGE_JWKS_URL",
            },
            counts=RefusalCounts(engine),
        )
        threads = store_threads(engine)
        return cls(
            settings=settings,
            engine=engine,
            clock=clock,
            vault=vault,
            tenants=tenants,
            egress=egress,
            install_keys=InstallKeys(settings.connect_install_keys_url, egress, clock),
            connect_tenants=ConnectTenantCache(
                tenants,
                ttl_seconds=settings.tenant_cache_ttl_seconds,
                max_entries=settings.tenant_cache_size,
                threads=threads,
            ),
            store_threads=threads,
        )

    @property
    def deletion_requests(self) -> DeletionRequests:
        """Deletion asked for from an app's admin page (see :mod:`pledge.retention.deletion_requests`)."""
        return DeletionRequests(self.tenants, DeletionConfirmation(self.vault, self.clock))

    def store_for(self, app: App, tenant: Tenant) -> TenantStore:
        """The tenant's records of ``app``, checked against the app's data manifest (see :mod:`pledge.store`)."""
        if tenant.app_key != app.key:
            raise PledgeError(f"tenant {tenant.id} belongs to app {tenant.app_key!r}, not {app.key!r}")
        return TenantStore(self.engine, self.vault, self.clock, app_key=app.key, manifest=app.data, tenant_id=tenant.id)

    def sweep_caches(self) -> None:
        """Drop expired tenants' secrets and data keys from memory now (the host calls it on a timer)."""
        self.connect_tenants.sweep()
        self.vault.sweep()

    def close(self) -> None:
        if not self.closed:
            self.store_threads.shutdown()  # calls under way finish on their connections first
            self.engine.dispose()
            self.closed = True


def create_data_dir(path: Path) -> None:
    """Create the data directory, private to its owner (it holds the database, the keyring and backups).

    Only the directory itself: a parent that does not exist is more likely a typo than a wish for a new tree.
    """
    if path.is_dir():
        return
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"{ENV_PREFIX}DATA_DIR={str(path)!r}: its parent directory does not exist: create it or correct the path"
        )
    try:
        path.mkdir(mode=DATA_DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise ConfigurationError(f"{ENV_PREFIX}DATA_DIR={str(path)!r} is a file, not a directory") from None
        return  # another process created it first
    except OSError as exc:
        raise ConfigurationError(f"{ENV_PREFIX}DATA_DIR={str(path)!r} cannot be created: {exc.strerror}") from None
    path.chmod(DATA_DIR_MODE)  # mkdir's mode passes through the umask; the directory is ours, set it exactly
