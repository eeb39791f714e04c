"""What one tenant's purge (S7) costs on a database of 1 tenant against one of 1,000. Target: at most 1.5 times.

Each database holds the tenants with 20 records each (half of them in an indexed collection), written through the
store. A purge is the ``tenant-purge`` job run under its lease for one tenant past its grace: ledger row, key shred,
every row deleted through the tenant data, its tombstone and key copies in the backup target (the default
directory), ledger finished. Each size purges 7 tenants one at a time (a fresh tenant
each time, so the database keeps its size); the median is reported. SQLite, and PostgreSQL when
``PLEDGE_BENCH_POSTGRES_URL`` (default the local test database) answers; each PostgreSQL run gets its own schema.

Run: .venv/bin/python -m bench purge
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import PostgresUnreachable, postgres_schema
from pledge import schema
from pledge.app import App
from pledge.cli.jobs import purger
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field
from pledge.tenants import TenantState

SIZES = (1, 1000)
RECORDS = 20
PURGES = 7
TARGET = 1.5

APP = App(
    key="bench-purge",
    name="Purge benchmark",
    data=DataManifest(
        (
            Collection("rules", "rules", (Field("project", Category.CONFIGURATION, "p", indexed=True),)),
            Collection("notes", "notes", (Field("text", Category.CONTENT, "t"),)),
        )
    ),
)


def _populate(runtime: Runtime, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        tenant = runtime.tenants.create(
            app_key=APP.key, client_key=uuid.uuid4().hex, base_url="https://bench.atlassian.net", product_type="jira"
        )
        store = runtime.store_for(APP, tenant)
        for n in range(RECORDS // 2):
            store.create("rules", {"project": f"P{n}"})
            store.create("notes", {"text": "kept until the purge"})
        ids.append(tenant.id)
    return ids


def purge_seconds(database_url: str, data_dir: Path, size: int) -> float:
    clock = FrozenClock(datetime(2026, 12, 1, tzinfo=UTC))
    runtime = Runtime.open(load_settings(data_dir=data_dir, database_url=database_url), clock=clock)
    try:
        schema.upgrade(runtime.engine)
        _populate(runtime, size - 1)
        runner = JobRunner(runtime.engine, clock, [purger(runtime).job()])
        times = []
        for _ in range(PURGES):
            (target,) = _populate(runtime, 1)
            runtime.tenants.transition(target, TenantState.UNINSTALLED)
            clock.advance(timedelta(days=31))
            started = time.perf_counter()
            record = runner.run_now(PURGE_JOB)
            times.append(time.perf_counter() - started)
            assert record.outcome == "succeeded" and runtime.vault.is_shredded(target)
        return statistics.median(times)
    finally:
        runtime.close()


@contextmanager
def _database(engine: str, scratch: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{scratch / 'bench.db'}"
    else:
        with postgres_schema() as url:
            yield url


def main() -> None:
    print(
        f"purge of one tenant ({RECORDS} records), median of {PURGES}; target: 1,000 tenants at most {TARGET} times 1"
    )
    print(f"{'engine':12}{'tenants':>10}{'ms':>10}{'vs 1':>8}")
    for engine in ("sqlite", "postgresql"):
        first = None
        for size in SIZES:
            try:
                with tempfile.TemporaryDirectory() as tmp, _database(engine, Path(tmp)) as url:
                    seconds = purge_seconds(url, Path(tmp) / "data", size)
            except PostgresUnreachable as exc:
                print(f"{engine:12}{'-':>10}  {exc}")
                break
            first = first or seconds
            verdict = "" if size == SIZES[0] else ("  ok" if seconds / first <= TARGET else "  OVER TARGET")
            print(f"{engine:12}{size:>10,}{seconds * 1000:>10.1f}{seconds / first:>8.2f}{verdict}")


if __name__ == "__main__":
    main()
