"""Fault scenarios under load (issue 15, item 6), one command each:

``python -m bench faults postgres-restart``: three ``pledge serve`` instances on a private PostgreSQL server that is
stopped mid-load and started again. During the outage requests get 503 ``storage_unavailable`` with ``Retry-After``,
never a 500; nothing acknowledged is lost; service returns without restarting Pledge.

``python -m bench faults disk-full``: one ``pledge serve`` on SQLite on a small tmpfs that fills up mid-load. Writes
get 503 ``storage_unavailable`` ("database or disk is full") and one log line; the database passes
``PRAGMA integrity_check``; once space is freed, writes succeed again and nothing acknowledged is lost.

``python -m bench faults s3-down``: the backup job writing to S3 (SeaweedFS on loopback) while the S3 server is
killed part-way through the upload. The run fails in bounded time (``TargetUnavailable``), is recorded and counted by
job health, and is retried with backoff, not at every tick; nothing partial is listed; once S3 is back, the next try
makes a complete backup that verifies, and the dead run's objects are swept a day later.

Without an argument, all three. tests/deploy/test_faults.py runs the same scenarios, shorter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import httpx

from bench import seaweed
from bench._fleet import Driver, Fleet, Outcome, fleet, print_outcomes, settle
from bench._private_postgres import PostgresUnavailable, private_postgres
from bench.backup import populate
from bench.harness import BenchError
from pledge import schema
from pledge.backup.backups import Backups
from pledge.backup.integrity import verify_backup
from pledge.backup.schedule import backup_jobs
from pledge.backup.target import BackupTarget
from pledge.backup.writer import ORPHAN_AGE
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.jobs import JobRunner
from pledge.jobs import Outcome as RunOutcome
from pledge.runtime import Runtime
from pledge.serving import backups_for

TMPFS_BYTES: Final = 8 * 1024 * 1024
FILL_CHUNK: Final = 64 * 1024
AFTER_THE_RUN: Final = 900_000_000
"""Sequence numbers of the deliveries sent after a run: never one of the run's own."""


class FaultUnavailable(RuntimeError):
    """This machine cannot stage the fault (no PostgreSQL binaries, no mount): the message says why."""


@dataclass(frozen=True)
class FaultOutcome:
    name: str
    problems: list[str]
    notes: list[str]
    load: Outcome | None = None
    """What the deliveries sent while the fault lasted were answered (None: the scenario sends none)."""


def _storage_only_503(outcome: Outcome, code: str) -> list[str]:
    """Every 5xx must be the documented 503 ``code`` with Retry-After (never a 500), and nothing lost."""
    tally = outcome.tally
    problems = [
        f"{count} answers {status}" for status, count in tally.statuses.items() if status >= 500 and status != 503
    ]
    wrong = {what: n for what, n in tally.refusals.items() if not what.startswith(f"{code}, Retry-After")}
    if wrong:
        problems.append(f"503 answers without the documented reason and Retry-After: {wrong}")
    if outcome.lost:
        problems.append(f"{outcome.lost} acknowledged deliveries are not in the store")
    if tally.unacknowledged:
        problems.append(f"{len(tally.unacknowledged)} deliveries never acknowledged")
    return problems


def _answers_first_time(running: Fleet) -> list[str]:
    """After the fault: every instance acknowledges a new delivery at the first attempt, with no restart."""
    problems = []
    driver = Driver(running, rate=1.0)
    with httpx.Client(timeout=10) as client:
        for number, instance in enumerate(running.instances):
            for sequence in (2 * number, 2 * number + 1):  # a Connect webhook, a Forge invocation, past the run's
                request = driver.request_for(driver.next_delivery(AFTER_THE_RUN + sequence), instance.url)
                response = client.send(request)
                if response.status_code >= 300:
                    problems.append(f"{instance.name} answered {response.status_code} after the fault: {response.text}")
    return problems


def postgres_restart(
    *, seconds: float = 20.0, outage: float = 4.0, rate: float = 20.0, instances: int = 3
) -> FaultOutcome:
    """Stop the private PostgreSQL server at a third of the run, start it ``outage`` seconds later."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(private_postgres())
        except PostgresUnavailable as exc:
            raise FaultUnavailable(str(exc)) from None
        running = stack.enter_context(fleet(server.url, instances=instances))
        driver = Driver(running, rate=rate)
        down_at = seconds / 3

        async def stop() -> None:
            await asyncio.to_thread(server.stop)

        async def start() -> None:
            await asyncio.to_thread(server.start)

        events = [(down_at, "PostgreSQL stopped", stop), (down_at + outage, "PostgreSQL starting", start)]
        elapsed = asyncio.run(driver.run(seconds, events, title="postgres restart"))
        outcome = settle("PostgreSQL restarted mid-load", driver, running, elapsed)
        problems = _storage_only_503(outcome, "storage_unavailable") + _answers_first_time(running)
        if not outcome.tally.statuses.get(503):
            problems.append("no 503 during the outage: did the server stop?")
        lines = [line for instance in running.instances for line in instance.log_lines()]
        notes = [
            f"log lines: {sum('storage unavailable' in line for line in lines)} 'storage unavailable' (one per"
            f" refused request), {sum('the tick failed' in line for line in lines)} 'jobs: the tick failed'",
        ]
        return FaultOutcome(outcome.name, problems, notes, outcome)


@contextmanager
def small_filesystem(size: int = TMPFS_BYTES) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes, mounted on a temporary directory (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        raise FaultUnavailable("mounting a small tmpfs needs root")
    with tempfile.TemporaryDirectory(prefix="pledge-small-fs-") as mount_point:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", mount_point],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode != 0:
            raise FaultUnavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        try:
            yield Path(mount_point)
        finally:
            subprocess.run(["umount", "-l", mount_point], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the filesystem is full; return it (deleting it frees the space again)."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (FILL_CHUNK, 512):  # big blocks, then the last small ones
            with contextlib.suppress(OSError):  # ENOSPC: full at this block size
                while True:
                    out.write(b"\0" * size)
    return filler


def integrity(database: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def disk_full(*, seconds: float = 15.0, rate: float = 20.0) -> FaultOutcome:
    """Fill the database's filesystem at a third of the run, free it at two thirds."""
    with small_filesystem() as mount:
        database = mount / "pledge.db"
        with fleet(f"sqlite:///{database}", instances=1) as running:
            driver = Driver(running, rate=rate)
            filled: list[Path] = []

            async def fill_up() -> None:
                filled.append(await asyncio.to_thread(fill, mount))

            async def free() -> None:
                filled.pop().unlink()

            third = seconds / 3
            events = [(third, "filesystem filled", fill_up), (2 * third, "space freed", free)]
            elapsed = asyncio.run(driver.run(seconds, events, title="disk full"))
            outcome = settle("disk full mid-load (SQLite)", driver, running, elapsed)
            problems = _storage_only_503(outcome, "storage_full") + _answers_first_time(running)
            if not outcome.tally.statuses.get(503):
                problems.append("no 503 while the disk was full: did the filesystem fill?")
            full_lines = [line for line in running.instances[0].log_lines() if "storage full: " in line]
            if not full_lines:
                problems.append("no log line says the disk is full")
            checked = integrity(database)
            if checked != "ok":
                problems.append(f"integrity_check after the fault: {checked}")
            notes = [f"log: {full_lines[0]}" if full_lines else "", f"integrity_check: {checked}"]
            return FaultOutcome(outcome.name, problems, [note for note in notes if note], outcome)


class _KillsTheServer:
    """The deployment's own S3 target, with one fault: the S3 server is killed (SIGKILL) once ``after`` objects
    have been put, while the upload threads are still sending the rest."""

    def __init__(self, target: BackupTarget, server: seaweed.S3Server, after: int) -> None:
        self._target = target
        self._server = server
        self._left = after
        self._lock = threading.Lock()
        self.killed = threading.Event()

    @property
    def description(self) -> str:
        return self._target.description

    def put(self, name: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        self._target.put(name, data, retain_until=retain_until)
        with self._lock:
            self._left -= 1
            if self._left == 0:
                seaweed.stop(self._server, kill=True)
                self.killed.set()

    def get(self, name: str) -> bytes:
        return self._target.get(name)

    def list(self, prefix: str = "") -> Sequence[str]:
        return self._target.list(prefix)

    def delete(self, name: str) -> None:
        self._target.delete(name)


def s3_down(*, tenants: int = 60) -> FaultOutcome:
    """Kill S3 after a third of the backup's objects are up; start it again once the failure is recorded."""
    with tempfile.TemporaryDirectory(prefix="pledge-s3-down-") as scratch, ExitStack() as servers:
        try:
            server = seaweed.start(Path(scratch) / "seaweedfs")
        except seaweed.SeaweedUnavailable as exc:
            raise FaultUnavailable(str(exc)) from None
        servers.callback(seaweed.stop, server)

        def restart() -> None:
            servers.callback(seaweed.stop, seaweed.start(server.directory, again=server))

        return _s3_down(Path(scratch), server, restart, tenants)


def _s3_down(scratch: Path, server: seaweed.S3Server, restart: Callable[[], None], tenants: int) -> FaultOutcome:
    server.client().create_bucket(Bucket="pledge-backups")
    settings = load_settings(
        data_dir=scratch / "data",
        backup_target="s3://pledge-backups/pledge",
        backup_s3_endpoint_url=server.endpoint_url,
        backup_s3_region="us-east-1",
        backup_s3_path_style=True,
        backup_s3_access_key_id=server.access_key_id,
        backup_s3_secret_access_key=server.secret_access_key,
    )
    clock = FrozenClock(datetime.now(UTC))
    runtime = Runtime.open(settings, clock=clock)
    try:
        schema.upgrade(runtime.engine)
        populate(runtime, tenants)
        return _kill_mid_backup(runtime, clock, server, restart, tenants)
    finally:
        runtime.close()


def _kill_mid_backup(
    runtime: Runtime, clock: FrozenClock, server: seaweed.S3Server, restart: Callable[[], None], tenants: int
) -> FaultOutcome:
    problems: list[str] = []
    backups = backups_for(runtime)
    faulty = _KillsTheServer(backups.target, server, after=tenants // 3)
    backup_job, _drill = backup_jobs(_with_target(backups, faulty), timedelta(days=1))
    runner = JobRunner(runtime.engine, clock, [backup_job])

    started = time.monotonic()
    [failed] = runner.tick()
    failed_in = time.monotonic() - started
    if not faulty.killed.is_set() or failed.outcome != RunOutcome.FAILED:
        problems.append(f"the run with S3 killed mid-upload ended {failed.outcome} ({failed.error})")
    [status] = runner.status()
    backoff = status.next_attempt - clock.now()
    if status.failures_in_a_row != 1 or backoff <= timedelta(0):
        problems.append(f"job health after the failure: {status.failures_in_a_row} failures, no backoff")
    if runner.tick():
        problems.append("the failed job ran again at the next tick: no backoff")

    restart()
    partial = [name for name in backups.target.list("backups/") if not name.endswith("/manifest")]
    if backups.complete_ids():
        problems.append(f"listed after the failed run: {backups.complete_ids()}")
    clock.advance(backoff)
    backup_job, _drill = backup_jobs(backups, timedelta(days=1))
    runner = JobRunner(runtime.engine, clock, [backup_job])
    retried = runner.tick()
    if [record.outcome for record in retried] != [RunOutcome.SUCCEEDED]:
        problems.append(f"the retry once S3 was back: {[(record.outcome, record.error) for record in retried]}")
    complete = backups.complete_ids()
    verified = bool(complete) and verify_backup(backups, backups.manifest(complete[-1])).passed
    if not verified:
        problems.append("the backup made after S3 came back does not verify")
    clock.advance(ORPHAN_AGE + timedelta(hours=1))
    runner.run_now(backup_job.name)
    complete = backups.complete_ids()
    left = [name for name in backups.target.list("backups/") if name.split("/")[1] not in complete]
    if left:
        problems.append(f"{len(left)} objects of the dead run still there a day later")
    notes = [
        f"S3 killed after {tenants // 3} objects were put: the run failed in {failed_in:.1f} s ({failed.error});"
        f" its {len(partial)} segments under backups/ are listed as no backup",
        f"job health: {status.failures_in_a_row} failure in a row, next try {backoff.total_seconds():.0f} s after it;"
        f" the try once S3 was back: {retried[0].outcome if retried else 'none'}",
        f"the new backup verifies: {verified}; the dead run's objects swept a day later: {not left}",
    ]
    return FaultOutcome("S3 killed mid-backup", problems, notes)


def _with_target(backups: Backups, target: BackupTarget) -> Backups:
    return dataclasses.replace(backups, target=target)


SCENARIOS: Final[dict[str, Callable[[], FaultOutcome]]] = {
    "postgres-restart": postgres_restart,
    "disk-full": disk_full,
    "s3-down": s3_down,
}


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench faults", description="Fault scenarios under load.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"scenarios to run: {', '.join(SCENARIOS)} (all)")
    names = parser.parse_args(list(argv)).names or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"no fault scenario {', '.join(unknown)}: there are {', '.join(SCENARIOS)}")
    results: list[FaultOutcome] = []
    for name in names:
        try:
            results.append(SCENARIOS[name]())
        except FaultUnavailable as exc:
            print(f"faults {name}: skipped: {exc}")
    print()
    loads = [result.load for result in results if result.load is not None]
    if loads:
        print_outcomes(loads)
    for result in results:
        for note in result.notes:
            print(f"{result.name}: {note}")
    problems = [f"{result.name}: {problem}" for result in results for problem in result.problems]
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        raise BenchError("; ".join(problems))
