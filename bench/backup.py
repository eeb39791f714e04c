"""Backups (S4, S5): ``pledge backup run`` against the pipeline ``sqlite3 .backup | zstd | age`` on the same SQLite
database in the same run, their sizes, and a single-tenant restore on a database of 1 versus 1,000 tenants.

The pipeline needs Debian's ``sqlite3``, ``zstd`` and ``age`` (this bench installs nothing): a missing tool is said,
and its row left out. Each figure is the median of a few rounds, taken in turn.

    python -m bench backup        (or: python bench/backup.py)
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pledge import schema
from pledge.app import App
from pledge.backup.backups import Backups
from pledge.backup.directory import DirectoryTarget
from pledge.backup.restore import restore_tenant
from pledge.backup.writer import run_backup
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field

ROUNDS = 3
RECORDS_PER_TENANT = 20
THROUGHPUT_TENANTS = 300
RESTORE_TENANTS = (1, 1000)

bench_app = App(
    key="bench-backup",
    name="Backup benchmark",
    data=DataManifest(
        (
            Collection(
                "notes",
                "Notes on issues",
                (
                    Field("issue", Category.CONFIGURATION, "The issue the note is on", indexed=True),
                    Field("text", Category.CONTENT, "The note"),
                ),
            ),
        )
    ),
)


def _populated(directory: Path, tenants: int) -> tuple[Runtime, Backups]:
    runtime = Runtime.open(load_settings(data_dir=directory))
    schema.upgrade(runtime.engine)
    populate(runtime, tenants)
    backups = Backups(
        runtime.engine, runtime.vault, runtime.tenant_data, DirectoryTarget(directory / "backups"), runtime.clock, 30
    )
    return runtime, backups


def populate(runtime: Runtime, tenants: int) -> None:
    """``tenants`` sites of :data:`bench_app`, each with :data:`RECORDS_PER_TENANT` notes."""
    for site in range(tenants):
        tenant = runtime.tenants.create(
            app_key=bench_app.key,
            client_key=f"site-{site}",
            base_url=f"https://site-{site}.atlassian.net",
            product_type="jira",
        )
        store = runtime.store_for(bench_app, tenant)
        for i in range(RECORDS_PER_TENANT):
            store.create("notes", {"issue": f"SIM-{i}", "text": f"note {i} of site {site}: " + "lorem ipsum " * 20})


def _median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _pipeline(database: Path, scratch: Path, recipient: str | None) -> int:
    """sqlite3 .backup → zstd → age; the size of what it leaves."""
    copy, compressed, sealed = scratch / "copy.db", scratch / "copy.db.zst", scratch / "copy.db.zst.age"
    for path in (copy, compressed, sealed):
        path.unlink(missing_ok=True)
    subprocess.run(["sqlite3", str(database), f".backup '{copy}'"], check=True)
    subprocess.run(["zstd", "-q", "-3", str(copy), "-o", str(compressed)], check=True)
    if recipient is None:
        return compressed.stat().st_size
    subprocess.run(["age", "-r", recipient, "-o", str(sealed), str(compressed)], check=True)
    return sealed.stat().st_size


def throughput() -> None:
    missing = [tool for tool in ("sqlite3", "zstd", "age", "age-keygen") if shutil.which(tool) is None]
    with tempfile.TemporaryDirectory(prefix="pledge-bench-backup-") as temporary:
        directory = Path(temporary)
        runtime, backups = _populated(directory / "data", THROUGHPUT_TENANTS)
        database = Path(str(runtime.engine.url.database))
        sizes: dict[str, int] = {}

        def pledge_run() -> None:
            sizes["pledge backup run"] = run_backup(backups).size

        rows = {"pledge backup run": pledge_run}
        if not {"sqlite3", "zstd"} & set(missing):
            recipient = None
            if not {"age", "age-keygen"} & set(missing):
                identity = subprocess.run(["age-keygen"], check=True, capture_output=True, text=True).stdout
                recipient = next(line.split(": ")[1] for line in identity.splitlines() if "public key" in line)
            name = "sqlite3 .backup | zstd" + (" | age" if recipient else "")
            rows[name] = lambda: sizes.__setitem__(name, _pipeline(database, directory, recipient))
        medians = {name: _median_seconds(work) for name, work in rows.items()}
        raw = database.stat().st_size
        runtime.close()
    print(f"backup of {THROUGHPUT_TENANTS} sites x {RECORDS_PER_TENANT} records, SQLite file {raw:,} bytes")
    print(f"{'scenario':36} {'seconds':>9} {'MB/s':>8} {'size':>12}")
    for name, seconds in medians.items():
        print(f"{name:36} {seconds:9.3f} {raw / seconds / 1e6:8.1f} {sizes[name]:12,}")
    if missing:
        print(f"not measured: {', '.join(missing)} not installed (apt-get install sqlite3 zstd age)")
    names = list(medians)
    if len(names) == 2:
        speed = medians[names[1]] / medians[names[0]]
        size = sizes[names[0]] / sizes[names[1]]
        print(f"pledge throughput vs the pipeline: {speed:.2f}x (target >= 1.00); size {size:.2f}x of the pipeline's")


def single_tenant_restore() -> None:
    medians = {}
    for tenants in RESTORE_TENANTS:
        with tempfile.TemporaryDirectory(prefix="pledge-bench-restore-") as temporary:
            runtime, backups = _populated(Path(temporary) / "data", tenants)
            manifest = run_backup(backups)
            tenant_id = manifest.tenants[len(manifest.tenants) // 2]
            restore_tenant(backups, manifest, tenant_id)  # warm: the migrations read, the first connections made
            medians[tenants] = _median_seconds(lambda: restore_tenant(backups, manifest, tenant_id))  # noqa: B023
            runtime.close()
    print(f"single-tenant restore ({RECORDS_PER_TENANT} records), median of {ROUNDS}")
    for tenants, seconds in medians.items():
        print(f"  {tenants:>5} tenants in the database: {seconds * 1000:8.1f} ms")
    small, large = (medians[t] for t in RESTORE_TENANTS)
    print(f"1,000 vs 1 tenant: {large / small:.2f}x (target <= 1.5x)")


def main() -> None:
    throughput()
    single_tenant_restore()


if __name__ == "__main__":
    main()
