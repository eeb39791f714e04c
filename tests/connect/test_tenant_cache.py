"""The in-memory cache of verified tenants: short-lived, forgotten on lifecycle changes, one load per miss."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine, event

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.runtime import Runtime
from pledge.tenants import Tenant, TenantState
from pledge.tenants.registry import TenantRegistry
from pledge.trust.tenant_cache import ConnectTenantCache
from pledge.vault import LocalKeyring, Vault
from pledge.vault.envelope import CACHE_TTL_SECONDS


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def installed(runtime: Runtime) -> str:
    tenant = runtime.tenants.create(
        app_key="app", client_key="ck", base_url="https://a.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(tenant.id, "secret-1")
    return tenant.id


def test_entries_expire_after_the_ttl_and_on_forget(runtime: Runtime) -> None:
    tenant_id = installed(runtime)
    ticks = Ticks()
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=10, monotonic=ticks)
    assert cache.get("app", "ck") is None
    loaded = cache.load("app", "ck")
    assert loaded is not None and loaded.shared_secret == "secret-1"
    runtime.tenants.transition(tenant_id, TenantState.DISABLED)
    ticks.now = 9.9
    assert cache.get("app", "ck") is loaded  # another instance's change is seen only after the TTL
    ticks.now = 10.0
    assert cache.get("app", "ck") is None
    cache.load("app", "ck")
    cache.forget("app", "ck")
    assert cache.get("app", "ck") is None
    assert cache.load("app", "other") is None


def test_a_load_that_overlaps_a_lifecycle_change_is_not_kept(runtime: Runtime) -> None:
    tenant_id = installed(runtime)
    cache = ConnectTenantCache(runtime.tenants)
    real_installation = runtime.tenants.connect_installation

    def rotated_meanwhile(app_key: str, client_key: str) -> tuple[Tenant, str]:
        old = real_installation(app_key, client_key)
        runtime.tenants.set_shared_secret(tenant_id, "secret-2")
        cache.forget("app", "ck")  # what the lifecycle handler does after the write
        return old

    runtime.tenants.connect_installation = rotated_meanwhile  # type: ignore[method-assign]
    assert cache.load("app", "ck") is not None
    assert cache.get("app", "ck") is None


async def test_concurrent_misses_share_one_database_load(runtime: Runtime) -> None:
    installed(runtime)
    cache = ConnectTenantCache(runtime.tenants)
    loads = 0
    real_load = cache.load

    def counting_load(app_key: str, client_key: str) -> object:
        nonlocal loads
        loads += 1
        return real_load(app_key, client_key)

    cache.load = counting_load  # type: ignore[method-assign,assignment]
    results = await asyncio.gather(*(cache.fetch("app", "ck") for _ in range(20)))
    assert loads == 1
    assert {r.shared_secret for r in results if r is not None} == {"secret-1"}


async def test_an_unknown_client_key_is_remembered_for_the_ttl_and_forgotten_on_install(runtime: Runtime) -> None:
    ticks = Ticks()
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=10, monotonic=ticks)
    assert await cache.fetch("app", "ck") is None
    assert cache.known_unknown("app", "ck")
    installed(runtime)
    ticks.now = 9.9
    assert await cache.fetch("app", "ck") is None  # another instance's install is seen only after the TTL
    ticks.now = 10.0
    found = await cache.fetch("app", "ck")
    assert found is not None and not cache.known_unknown("app", "ck")
    assert await cache.fetch("app", "other") is None
    cache.forget("app", "other")  # what this instance's install handler does
    assert not cache.known_unknown("app", "other")


async def test_a_flood_of_unknown_client_keys_is_bounded_and_does_not_evict_tenants(runtime: Runtime) -> None:
    installed(runtime)
    cache = ConnectTenantCache(runtime.tenants, max_entries=8)
    assert await cache.fetch("app", "ck") is not None
    for n in range(50):
        assert await cache.fetch("app", f"unknown-{n}") is None
    assert cache.get("app", "ck") is not None
    assert sum(cache.known_unknown("app", f"unknown-{n}") for n in range(50)) == 8


def installed_many(runtime: Runtime, count: int) -> list[str]:
    """``count`` installed tenants, clientKeys ``ck-0`` …; their data keys made (as an install does)."""
    keys = []
    for n in range(count):
        tenant = runtime.tenants.create(
            app_key="app", client_key=f"ck-{n}", base_url=f"https://s{n}.atlassian.net", product_type="jira"
        )
        runtime.tenants.set_shared_secret(tenant.id, f"secret-{n}")
        keys.append(f"ck-{n}")
    return keys


def test_when_full_the_least_recently_used_tenant_goes_first(runtime: Runtime) -> None:
    installed_many(runtime, 3)
    cache = ConnectTenantCache(runtime.tenants, max_entries=2)
    cache.load("app", "ck-0")
    cache.load("app", "ck-1")
    assert cache.get("app", "ck-0") is not None  # used: ck-1 is now the least recently used
    cache.load("app", "ck-2")
    assert cache.get("app", "ck-0") is not None
    assert cache.get("app", "ck-1") is None
    assert cache.get("app", "ck-2") is not None


def test_expired_secrets_leave_memory_at_the_sweep_unread(runtime: Runtime, clock: FrozenClock) -> None:
    installed_many(runtime, 3)
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=10, monotonic=clock.timestamp)
    for n in range(3):
        cache.load("app", f"ck-{n}")
    cache.load("app", "not-installed")
    clock.advance(timedelta(seconds=9))
    cache.sweep()
    assert len(cache) == 3
    clock.advance(timedelta(seconds=1))
    cache.sweep()  # what the host does on a timer: nobody asked for these tenants again
    assert len(cache) == 0
    assert not cache.known_unknown("app", "not-installed")


def test_a_load_after_the_ttl_sweeps_what_expired_meanwhile(runtime: Runtime, clock: FrozenClock) -> None:
    installed_many(runtime, 2)
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=10, monotonic=clock.timestamp)
    cache.load("app", "ck-0")
    clock.advance(timedelta(seconds=11))
    cache.load("app", "ck-1")  # a request of another tenant: ck-0 is gone from memory, not only refused
    assert len(cache) == 1
    assert cache.get("app", "ck-1") is not None


def test_the_vault_drops_expired_data_keys_at_the_sweep(runtime: Runtime, clock: FrozenClock, engine: Engine) -> None:
    installed_many(runtime, 2)
    vault = Vault(engine, LocalKeyring(runtime.settings.resolved_keyring_path), clock, monotonic=clock.timestamp)
    registry = TenantRegistry(engine, clock, vault, region="us-east-1")
    assert registry.connect_installation("app", "ck-0")[1] == "secret-0"
    assert registry.connect_installation("app", "ck-1")[1] == "secret-1"
    assert vault.cached_keys() == 2
    clock.advance(timedelta(seconds=CACHE_TTL_SECONDS))
    vault.sweep()
    assert vault.cached_keys() == 0


def test_a_miss_is_one_indexed_query_once_the_key_is_cached(runtime: Runtime) -> None:
    installed_many(runtime, 1)
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=0)
    cache.load("app", "ck-0")  # the data key is now in the vault's cache
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        found = cache.load("app", "ck-0")
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    assert found is not None and found.shared_secret == "secret-0"
    assert len(statements) == 1 and "client_key" in statements[0]


async def test_concurrent_misses_of_many_tenants_open_no_new_connections(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    runtime = Runtime.open(settings, clock=clock)  # the engine and pool as `pledge serve` opens them
    try:
        client_keys = installed_many(runtime, 32)
        cache = runtime.connect_tenants
        opened, closed = [], []
        event.listen(runtime.engine, "connect", lambda *_: opened.append(1))
        event.listen(runtime.engine, "close", lambda *_: closed.append(1))
        for _wave in range(3):
            for key in client_keys:
                cache.forget("app", key)
            found = await asyncio.gather(*(cache.fetch("app", key) for key in client_keys))
            assert all(f is not None for f in found)
        # 96 misses, 32 at a time: at most the pool's connections opened, none closed (no overflow connection).
        assert len(opened) <= settings.database_pool_size
        assert closed == []
    finally:
        runtime.close()
