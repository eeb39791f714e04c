"""Verified Connect tenants and their unsealed shared secrets, kept in memory for a few seconds (S11, S3).

Looking the tenant up and unsealing its secret on every request costs two database round trips and an AES-GCM
open; the cache removes them from the hot path. Lifecycle events handled by this process forget the entry at once.

Several instances: an ``enabled``/``disabled``/``uninstalled``/secret rotation handled by *another* instance is
seen here only when the entry expires, so the TTL bounds how long a stale state or an old secret is honoured. It
is deliberately short (10 s by default): Atlassian itself keeps accepting an old secret for a while after rotating.

A clientKey that is not installed is remembered as unknown for the same TTL (bounded separately, so a flood of
made-up keys cannot push out real tenants): an unauthenticated caller repeating one cannot reach the database with
it, and its refusal takes the time of a cached lookup, as a known tenant's does.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from pledge.tenants import Tenant, TenantRegistry
from pledge.tenants.registry import TenantNotFound
from pledge.trust.jws import SharedSecret
from pledge.vault import CiphertextInvalid, KeyShredded

DEFAULT_TTL_SECONDS = 10.0
_T = TypeVar("_T")


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
        # (app key, clientKey) -> until when (monotonic) it is known not to be installed.
        self._unknown: OrderedDict[tuple[str, str], float] = OrderedDict()
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
            value = None
        else:
            value = ConnectTenant(tenant, secret)
        if forgets != self._forgets:
            return value  # a lifecycle change landed while this was read: it may predate it, so do not keep it
        expires = self._monotonic() + self._ttl
        if value is None:
            self._remember(self._unknown, (app_key, client_key), expires)
        else:
            self._unknown.pop((app_key, client_key), None)
            self._remember(self._entries, (app_key, client_key), (expires, value))
        return value

    def _remember(self, entries: OrderedDict[tuple[str, str], _T], key: tuple[str, str], value: _T) -> None:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)

    def known_unknown(self, app_key: str, client_key: str) -> bool:
        """True while ``client_key`` is remembered as not installed (then :meth:`fetch` answers None at once)."""
        until = self._unknown.get((app_key, client_key))
        if until is None:
            return False
        if self._monotonic() < until:
            return True
        self._unknown.pop((app_key, client_key), None)
        return False

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
        self._unknown.pop((app_key, client_key), None)
        self._loading.pop((app_key, client_key), None)
