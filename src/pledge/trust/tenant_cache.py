"""Verified Connect tenants and their unsealed shared secrets, kept in memory for minutes (S11, S3).

Looking the tenant up and unsealing its secret on every request costs a database round trip and an AES-GCM open;
the cache removes them from the hot path. Lifecycle events handled by this process forget the entry at once.

Several instances: an ``enabled``/``disabled``/``uninstalled``/secret rotation handled by *another* instance is
forgotten here within the tenant changes poll (``pledge.trust.tenant_changes`` calls :meth:`ConnectTenantCache.forget`),
not at the TTL. The TTL (``PLEDGE_TENANT_CACHE_TTL_SECONDS``, 300 s by default) is long so that traffic spread over
thousands of sites still hits; it bounds only what no change number announces (a tenant brought in by an import).

Sized by ``PLEDGE_TENANT_CACHE_SIZE``, least recently used first out; an expired entry, its secret included,
leaves memory when it is read or at the next sweep (:class:`~pledge.cache.ExpiringCache`).

A starting instance fills it with every active installation before it serves (:meth:`ConnectTenantCache.preload`,
called by the tenant changes watcher's first poll): a restart would otherwise send the first request of every site to
the database, each a query, a key unwrap and an AES-GCM open on the store threads, at a fraction of the warm rate.

A clientKey that is not installed is remembered as unknown for the same TTL (bounded separately, so a flood of
made-up keys cannot push out real tenants): an unauthenticated caller repeating one cannot reach the database with
it, and its refusal takes the time of a cached lookup, as a known tenant's does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from pledge.cache import ExpiringCache
from pledge.tenants import Tenant, TenantRegistry
from pledge.tenants.registry import TenantNotFound
from pledge.trust.jws import SharedSecret
from pledge.vault import CiphertextInvalid, KeyShredded

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_MAX_ENTRIES = 20_000

TenantKey = tuple[str, str]
"""(app key, clientKey)."""


@dataclass(frozen=True, slots=True)
class ConnectTenant:
    tenant: Tenant
    shared_secret: str
    key: SharedSecret = field(init=False)
    """The secret as the HS256 key, its HMAC key schedule computed once rather than on every request."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", SharedSecret(self.shared_secret))

    def __repr__(self) -> str:
        return f"ConnectTenant(tenant={self.tenant!r})"


class ConnectTenantCache:
    """Tenant + shared secret by (app key, clientKey): ``get`` reads memory, ``load`` the database, ``fetch`` both;
    ``preload`` loads every active tenant at start.

    ``threads`` runs the loads of :meth:`fetch` (the runtime gives its store threads, as many as the database pool
    keeps connections, so concurrent misses queue for a pooled connection rather than open new ones); ``None``: the
    event loop's default executor.
    """

    def __init__(
        self,
        registry: TenantRegistry,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
        threads: Executor | None = None,
    ) -> None:
        self._registry = registry
        self._entries: ExpiringCache[TenantKey, ConnectTenant] = ExpiringCache(
            max_entries, ttl_seconds, monotonic=monotonic
        )
        # Known not to be installed, until the entry expires.
        self._unknown: ExpiringCache[TenantKey, bool] = ExpiringCache(max_entries, ttl_seconds, monotonic=monotonic)
        self._loading: dict[TenantKey, asyncio.Future[ConnectTenant | None]] = {}
        self._threads = threads
        self._forgets = 0

    def get(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """The cached entry if it is still fresh, else None (then call :meth:`load`, off the event loop)."""
        return self._entries.get((app_key, client_key))

    def load(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """Read and unseal from the database (one query); None when the tenant is unknown or its secret shredded."""
        forgets = self._forgets
        try:
            value: ConnectTenant | None = ConnectTenant(*self._registry.connect_installation(app_key, client_key))
        except (TenantNotFound, KeyShredded, CiphertextInvalid):
            value = None
        if forgets != self._forgets:
            return value  # a lifecycle change landed while this was read: it may predate it, so do not keep it
        key = (app_key, client_key)
        if value is None:
            self._unknown.put(key, True)
        else:
            self._unknown.pop(key)
            self._entries.put(key, value)
        return value

    def preload(self) -> int:
        """Load every active installation, as many as the cache holds; how many were loaded.

        Their expiries are spread evenly over the TTL rather than all at its end, when every request would miss at
        once: each is read again when its tenant next sends something after its time, as entries loaded by requests
        are. A host calls it through :class:`~pledge.trust.tenant_changes.TenantChangeWatcher`'s first poll, which
        forgets any change that lands while this reads (see there).
        """
        ttl = self._entries.ttl
        if ttl == 0:  # a cache told to keep nothing
            return 0
        installations = self._registry.active_connect_installations(self._entries.limit)
        for n, (tenant, secret) in enumerate(installations, 1):
            assert tenant.client_key is not None  # a Connect installation's, by the query
            self._entries.put(
                (tenant.app_key, tenant.client_key), ConnectTenant(tenant, secret), ttl=ttl * n / len(installations)
            )
        return len(installations)

    def known_unknown(self, app_key: str, client_key: str) -> bool:
        """True while ``client_key`` is remembered as not installed (then :meth:`fetch` answers None at once)."""
        return self._unknown.get((app_key, client_key)) is not None

    async def fetch(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """The entry from memory, else loaded off the event loop; concurrent misses for one key share one load.

        Without that, an entry expiring under load sends every in-flight request to the database at once.
        """
        found = self.get(app_key, client_key)
        if found is not None or self.known_unknown(app_key, client_key):
            return found
        key = (app_key, client_key)
        loop = asyncio.get_running_loop()
        pending = self._loading.get(key)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.run_in_executor(self._threads, self.load, app_key, client_key)
            self._loading[key] = pending
            pending.add_done_callback(
                lambda done: self._loading.pop(key, None) if self._loading.get(key) is done else None
            )
        # Shielded: a request whose client left stops waiting, the load goes on for the others.
        return await asyncio.shield(pending)

    def forget(self, app_key: str, client_key: str) -> None:
        """Drop an entry after a lifecycle change, so the next request reads the new state and secret."""
        self._forgets += 1
        key = (app_key, client_key)
        self._entries.pop(key)
        self._unknown.pop(key)
        self._loading.pop(key, None)

    def sweep(self) -> None:
        """Drop every expired entry (their secrets with them) now, whether or not anything asks for it again."""
        self._entries.sweep()
        self._unknown.sweep()

    def __len__(self) -> int:
        """Tenants held in memory (expired ones not swept yet included)."""
        return len(self._entries)
