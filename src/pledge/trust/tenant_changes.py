"""Tenant changes made by other instances, forgotten here within one poll (S6, S11 across instances).

Every change of a tenant is numbered in the database in commit order (:meth:`TenantRegistry.changes_since`). Each
instance asks, every ``PLEDGE_TENANT_CHANGES_POLL_SECONDS`` (0.5 s by default), which tenants changed since the last
number it saw, one indexed query, and drops them from its Connect tenant cache: an uninstall, disable, re-install or
secret rotation handled by any instance is honoured by all of them within the poll interval plus one query, not
the cache's TTL. Forge resolutions are cached for one second only (:mod:`pledge.forge.requests`), which is the bound.
"""

from __future__ import annotations

import threading
from contextlib import AbstractAsyncContextManager

from pledge.periodic import every
from pledge.tenants import TenantRegistry
from pledge.trust.tenant_cache import ConnectTenantCache


class TenantChangeWatcher:
    """Forgets from ``cache`` the tenants changed since the last poll."""

    def __init__(self, registry: TenantRegistry, cache: ConnectTenantCache) -> None:
        self._registry = registry
        self._cache = cache
        self._seen: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Forget the tenants changed since the last poll; how many. The first poll only finds where to start:
        nothing cached before it can predate it, as the cache is filled only while serving."""
        with self._lock:
            if self._seen is None:
                self._seen = self._registry.latest_change()
                return 0
            self._seen, changed = self._registry.changes_since(self._seen)
            for tenant in changed:
                if tenant.client_key is not None:
                    self._cache.forget(tenant.app_key, tenant.client_key)
            return len(changed)

    def watching(self, seconds: float) -> AbstractAsyncContextManager[None]:
        """Poll before the block starts (nothing cached can predate the first poll), then every ``seconds`` in a
        worker thread until it ends."""
        return every(seconds, self.poll, what="tenant changes: the poll", first_before=True)
