"""Whether the tenants a restarted instance loads at start all expire at once (issue 13, many tenants cold).

In this process, on SQLite, on a clock of its own: ``TENANTS`` installed Connect sites, a tenant cache filled at
start either by the preload (expiries spread over the TTL) or by one load of every site at start (each then expires
one TTL later, as a preload without the spreading would), then requests from random sites at ``RATE`` a second of
that clock for a little more than one TTL. Printed for each: the misses in all, in the worst second, and that
second's share of the requests. What a miss costs a server is in bench/serve.py's cold rows (preload off).

    python -m bench tenant_expiry
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.connect_auth import APP_KEY
from bench.serve import install, make_sites
from pledge import schema
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.trust.tenant_cache import ConnectTenantCache

TENANTS = 10_000
RATE = 2_000
TTL_SECONDS = 300.0
SECONDS = 330


class Ticks:
    """The simulated clock: seconds since the start, moved by the loop."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def preloaded(cache: ConnectTenantCache, _client_keys: Sequence[str]) -> None:
    cache.preload()


def loaded_one_by_one(cache: ConnectTenantCache, client_keys: Sequence[str]) -> None:
    for client_key in client_keys:
        cache.load(APP_KEY, client_key)


FILLS: dict[str, Callable[[ConnectTenantCache, Sequence[str]], None]] = {
    "the preload (expiries spread)": preloaded,
    f"one load per site (all expire at {TTL_SECONDS:.0f} s)": loaded_one_by_one,
}


def misses_per_second(runtime: Runtime, client_keys: Sequence[str], fill: Callable[..., None]) -> list[int]:
    ticks = Ticks()
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=TTL_SECONDS, monotonic=ticks)
    fill(cache, client_keys)
    pick = random.Random(13)  # the same requests for each fill
    found = []
    for second in range(SECONDS):
        misses = 0
        for n in range(RATE):
            ticks.now = second + n / RATE
            client_key = client_keys[pick.randrange(len(client_keys))]
            if cache.get(APP_KEY, client_key) is None:
                misses += 1
                cache.load(APP_KEY, client_key)
        found.append(misses)
    return found


def main() -> None:
    sites = make_sites(TENANTS)
    client_keys = [site.client_key for site in sites]
    with tempfile.TemporaryDirectory(prefix="pledge-bench-expiry-") as scratch:
        runtime = Runtime.open(load_settings(data_dir=Path(scratch)))
        try:
            schema.upgrade(runtime.engine)
            install(sites, Path(scratch), None)
            found = {name: misses_per_second(runtime, client_keys, fill) for name, fill in FILLS.items()}
        finally:
            runtime.close()
    print(f"\n== tenant_expiry: {TENANTS:,} sites, TTL {TTL_SECONDS:.0f} s, {RATE:,} requests/s from random sites")
    print(f"{'cache filled at start by':<45}{'misses':>9}{'worst second':>14}{'its share':>11}{'at':>7}")
    for name, misses in found.items():
        worst = max(misses)
        print(f"{name:<45}{sum(misses):>9,}{worst:>14,}{worst / RATE:>10.0%}{misses.index(worst):>5} s")
