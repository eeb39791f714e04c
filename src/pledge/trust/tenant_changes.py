"""Tenant changes made by other instances, forgotten here within one poll (S6, S11 across instances).

Every change of a tenant is numbered in the database in commit order (:meth:`TenantRegistry.changes_since`). Each
instance asks, every ``PLEDGE_TENANT_CHANGES_POLL_SECONDS`` (0.5 s by default), which tenants changed since the last
number it saw, one indexed query, and drops them from its Connect tenant cache: an uninstall, disable, re-install or
secret rotation handled by any instance is honoured by all of them within the poll interval plus one query, not
the cache's TTL. Forge resolutions are cached for one second only (:mod:`pledge.forge.requests`), which is the bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from pledge.tenants import TenantRegistry
from pledge.trust.tenant_cache import ConnectTenantCache

log = logging.getLogger("pledge.trust.tenant_changes")


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

    @asynccontextmanager
    async def watching(self, seconds: float) -> AsyncIterator[None]:
        """Poll before the block starts, then every ``seconds`` in a worker thread until it ends."""
        await anyio.to_thread.run_sync(self._poll_logged)

        async def loop() -> None:
            while True:
                await anyio.sleep(seconds)
                await anyio.to_thread.run_sync(self._poll_logged)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(loop)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    def _poll_logged(self) -> None:
        # A database down for a while must not end the loop: the next poll catches up on every change missed.
        try:
            self.poll()
        except Exception:
            log.exception("tenant changes: the poll failed; retrying in the next one")
