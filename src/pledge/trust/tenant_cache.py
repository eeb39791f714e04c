"""Verified Connect tenants and their unsealed shared secrets, kept in memory for a few seconds (S11, S3).

Looking the tenant up and unsealing its secret on every request costs two database round trips and an AES-GCM
open; the cache removes them from the hot path. Lifecycle events handled by this process forget the entry at once.

Several instances: an ``enabled``/``disabled``/``uninstalled``/secret rotation handled by *another* instance is
seen here only when the entry expires, so the TTL bounds how long a stale state or an old secret is honoured. It
is deliberately short (10 s by default): Atlassian itself keeps accepting an old secret for a while after rotating.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from pledge.tenants import Tenant, TenantRegistry
from pledge.tenants.registry import TenantNotFound
from pledge.trust.jwt_policy import SharedSecret
from pledge.vault import CiphertextInvalid, KeyShredded

DEFAULT_TTL_SECONDS = 10.0


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
    """Tenant + shared secret by (app key, clientKey): ``get`` reads memory, ``load`` the database, ``fetch`` both."""

    def __init__(
        self,
        registry: TenantRegistry,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], tuple[float, ConnectTenant]] = OrderedDict()
        self._loading: dict[tuple[str, str], asyncio.Task[ConnectTenant | None]] = {}
        self._forgets = 0

    def get(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """The cached entry if it is still fresh, else None (then call :meth:`load`, off the event loop)."""
        entry = self._entries.get((app_key, client_key))
        if entry is None:
            return None
        expires, value = entry
        if self._monotonic() >= expires:
            self._entries.pop((app_key, client_key), None)
            return None
        return value

    def load(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """Read and unseal from the database; None when the tenant is unknown or its secret is shredded."""
        forgets = self._forgets
        try:
            tenant = self._registry.by_client_key(app_key, client_key)
            secret = self._registry.shared_secret(tenant.id)
        except (TenantNotFound, KeyShredded, CiphertextInvalid):
            return None
        value = ConnectTenant(tenant, secret)
        if forgets != self._forgets:
            return value  # a lifecycle change landed while this was read: it may predate it, so do not keep it
        self._entries[(app_key, client_key)] = (self._monotonic() + self._ttl, value)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return value

    async def fetch(self, app_key: str, client_key: str) -> ConnectTenant | None:
        """The entry from memory, else loaded off the event loop; concurrent misses for one key share one load.

        Without that, an entry expiring under load sends every in-flight request to the database at once.
        """
        found = self.get(app_key, client_key)
        if found is not None:
            return found
        key = (app_key, client_key)
        loop = asyncio.get_running_loop()
        pending = self._loading.get(key)
        if pending is None or pending.get_loop() is not loop:
            pending = loop.create_task(run_in_threadpool(self.load, app_key, client_key))
            self._loading[key] = pending
            pending.add_done_callback(
                lambda done: self._loading.pop(key, None) if self._loading.get(key) is done else None
            )
        return await asyncio.shield(pending)

    def forget(self, app_key: str, client_key: str) -> None:
        """Drop an entry after a lifecycle change, so the next request reads the new state and secret."""
        self._forgets += 1
        self._entries.pop((app_key, client_key), None)
        self._loading.pop((app_key, client_key), None)
