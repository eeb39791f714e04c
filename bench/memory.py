"""What Pledge costs in memory: the server process's resident set, Starlette alone against the Pledge host, at
start and under load; and whether the Pledge server keeps growing under authenticated load.

Two servers, each in its own process: Starlette alone serving the baseline's bare route, and the Pledge host serving
the Connect benchmark app, loaded on its authenticated webhook (JWT + QSH, tenant cache, metrics). Each is read at
start, after a warm-up, and after a long load of many more requests. Every cache on the request path is bounded
(tenants, install keys, data keys), so past the warm-up the Pledge server should not grow: the last column is its
growth per 100,000 requests of the long load. Target: under 1 MiB per 100,000 requests.

    python -m bench memory        (or: python bench/memory.py)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import BODY, HEADERS, PATH
from bench.connect_auth import APP_KEY, MINIMAL_EVENT, WEBHOOK, seed_tenant, signed_token
from bench.harness import LoadResult, Served, run_wrk, serve

WARM_UP_SECONDS = 5
LONG_LOAD_SECONDS = 20
TARGET_GROWTH_MIB_PER_100K = 1.0
MIB = 1024 * 1024


def _phases(served: Served, load: Callable[[int], LoadResult]) -> tuple[int, int, int, int]:
    """RSS at start, after the warm-up, after the long load; and how many requests the long load answered."""
    at_start = served.rss_bytes()
    load(WARM_UP_SECONDS)
    warm = served.rss_bytes()
    long_load = load(LONG_LOAD_SECONDS)
    return at_start, warm, served.rss_bytes(), long_load.requests


def _print(name: str, at_start: int, warm: int, loaded: int, requests: int) -> None:
    growth = (loaded - warm) / MIB / max(requests, 1) * 100_000
    verdict = "ok" if growth < TARGET_GROWTH_MIB_PER_100K else "OVER"
    print(
        f"{name:<32}{at_start / MIB:>8.1f}{warm / MIB:>8.1f}{loaded / MIB:>8.1f}{requests:>11,}"
        f"{growth:>+11.2f}  {verdict}"
    )


def main() -> None:
    with serve("bench.baseline:bare") as alone:
        bare = _phases(
            alone,
            lambda seconds: run_wrk(
                alone.url + PATH, method="POST", headers=HEADERS, body=BODY, duration=seconds, warmup=0
            ),
        )
    with serve("bench.connect_auth:host", factory=True, ready_path="/healthz") as pledge:
        seed_tenant(pledge.data_dir)
        signed = HEADERS | {"Authorization": f"JWT {signed_token()}"}
        webhook = f"{pledge.url}/apps/{APP_KEY}{WEBHOOK}"
        authenticated = _phases(
            pledge,
            lambda seconds: run_wrk(
                webhook, method="POST", headers=signed, body=MINIMAL_EVENT, duration=seconds, warmup=0
            ),
        )
    print(f"\nResident set (MiB) at start, after {WARM_UP_SECONDS} s of load and after {LONG_LOAD_SECONDS} s more")
    print(
        f"{'server':<32}{'start':>8}{'warm':>8}{'loaded':>8}{'requests':>11}{'MiB/100k':>11}"
        f"  target < {TARGET_GROWTH_MIB_PER_100K:g}"
    )
    _print("starlette alone, bare route", *bare)
    _print("pledge host, Connect webhook", *authenticated)


if __name__ == "__main__":
    main()
