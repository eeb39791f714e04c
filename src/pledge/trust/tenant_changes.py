"""Tenant changes made by other instances, forgotten here within one poll (S6, S11 across instances).

Every change of a tenant is numbered in the database in commit order (:meth:`TenantRegistry.changes_since`). Each
instance asks, every ``PLEDGE_TENANT_CHANGES_POLL_SECONDS`` (0.5 s by default), which tenants changed since the last
number it saw, one indexed query, and drops them from its Connect tenant cache: an uninstall, disable, re-install or
secret rotation handled by any instance is honoured by all of them within the poll interval plus one query, not
the cache's TTL. Forge resolutions are cached for one second only (:mod:`pledge.forge.requests`), which is the bound.

The first poll finds where to start and, with ``PLEDGE_TENANT_PRELOAD`` (on by default), loads every active Connect
tenant into the cache as of that point: a restarted instance then answers its first requests as a warm one does,
rather than reading each site's tenant and unsealing its secret on that site's first request. Both happen under the
lock the later polls take, so a change committed after the starting number is forgotten by the next poll whether it
landed before or after the load read its tenant.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractAsyncContextManager

from sqlalchemy.exc import SQLAlchemyError

from pledge.db import error_reason
from pledge.periodic import every
from pledge.tenants import TenantRegistry
from pledge.trust.tenant_cache import ConnectTenantCache

log = logging.getLogger("pledge.trust.tenant_changes")


class TenantChangeWatcher:
    """Forgets from ``cache`` the tenants changed since the last poll; with ``preload``, fills it at the first."""

    def __init__(self, registry: TenantRegistry, cache: ConnectTenantCache, *, preload: bool) -> None:
        self._registry = registry
        self._cache = cache
        self._preload = preload
        self._seen: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int:
        """Forget the tenants changed since the last poll; how many. The first poll finds where to start (and
        preloads the cache): nothing cached before it can predate it, as the cache is otherwise filled only while
        serving, after it."""
        with self._lock:
            if self._seen is None:
                self._seen = self._registry.latest_change()
                if self._preload:
                    self._fill()
                return 0
            self._seen, changed = self._registry.changes_since(self._seen)
            for tenant in changed:
                if tenant.client_key is not None:
                    self._cache.forget(tenant.app_key, tenant.client_key)
            return len(changed)

    def watching(self, seconds: float) -> AbstractAsyncContextManager[None]:
        """Poll before the block starts (nothing cached can predate the first poll; the preload is done before the
        host reports started), then every ``seconds`` in a worker thread until it ends."""
        return every(seconds, self.poll, what="tenant changes: the poll", first_before=True)

    def _fill(self) -> None:
        """The preload, once: a database that fails it meanwhile leaves the cache to fill as sites send requests."""
        started = time.perf_counter()
        try:
            loaded = self._cache.preload()
        except SQLAlchemyError as exc:
            log.warning("tenant cache: not preloaded, it fills as sites send requests: %s", error_reason(exc))
            return
        log.info("tenant cache: %d active Connect tenants preloaded in %.2f s", loaded, time.perf_counter() - started)
