"""The in-memory cache of verified tenants: short-lived, forgotten on lifecycle changes, one load per miss."""

from __future__ import annotations

import asyncio

from pledge.runtime import Runtime
from pledge.tenants import TenantState
from pledge.trust.tenant_cache import ConnectTenantCache


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
    real_shared_secret = runtime.tenants.shared_secret

    def rotated_meanwhile(tid: str) -> str:
        old = real_shared_secret(tid)
        runtime.tenants.set_shared_secret(tenant_id, "secret-2")
        cache.forget("app", "ck")  # what the lifecycle handler does after the write
        return old

    runtime.tenants.shared_secret = rotated_meanwhile  # type: ignore[method-assign]
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
