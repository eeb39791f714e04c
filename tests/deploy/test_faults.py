"""The fault scenarios of `python -m bench faults`, shorter: real `pledge serve` processes under a steady stream of
signed Connect webhooks and Forge invocations, while the database goes away (a private PostgreSQL server stopped and
started again) or its disk fills up (SQLite on a small tmpfs); and the backup job while its S3 server is killed.
Nothing here is timed: the assertions are about what each delivery was answered, what the store holds afterwards,
and what the job runner and the bucket show."""

from __future__ import annotations

import psycopg.errors
import pytest
from bench._fleet import Outcome
from bench.faults import FaultOutcome, FaultUnavailable, disk_full, postgres_restart, s3_down
from sqlalchemy.exc import OperationalError
from tests.conftest import require

from pledge.db import is_disk_full


def _load(result: FaultOutcome) -> Outcome:
    assert result.load is not None, f"{result.name} sent no deliveries"
    return result.load


def _staged(scenario: str) -> FaultOutcome:
    staged = {
        "disk-full": lambda: disk_full(seconds=9, rate=12),
        "postgres-restart": lambda: postgres_restart(seconds=9, rate=12),
        "s3-down": lambda: s3_down(tenants=30),
    }
    try:
        return staged[scenario]()
    except FaultUnavailable as exc:
        require(False, f"cannot stage the fault {scenario}: {exc}")
        raise


@pytest.mark.postgres
def test_postgres_restarted_mid_load_is_503_for_the_outage_and_nothing_acknowledged_is_lost() -> None:
    result = _staged("postgres-restart")
    tally = _load(result).tally

    assert result.problems == []  # every 5xx a 503 storage_unavailable with Retry-After; service back, no restart
    assert tally.statuses[503] > 0 and 500 not in tally.statuses
    assert set(tally.refusals) == {"storage_unavailable, Retry-After 30"}
    assert tally.unacknowledged == {}  # every delivery was retried until acknowledged
    assert _load(result).lost == 0  # and every acknowledged one is in the store


def test_a_full_disk_refuses_writes_with_storage_full_and_corrupts_nothing() -> None:
    result = _staged("disk-full")
    tally = _load(result).tally

    assert result.problems == []  # includes PRAGMA integrity_check == ok and writes succeeding once space is freed
    assert set(tally.refusals) == {"storage_full, Retry-After 30"}
    assert "integrity_check: ok" in result.notes
    assert any('"storage full: POST /apps/' in note and "database or disk is full" in note for note in result.notes)
    assert tally.unacknowledged == {} and _load(result).lost == 0


def test_postgresql_s_disk_full_is_told_apart_from_its_outages() -> None:
    """The SQLite side is staged above; PostgreSQL's full disk is its SQLSTATE 53100, as psycopg raises it."""
    full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert is_disk_full(OperationalError("INSERT", {}, full))
    assert not is_disk_full(OperationalError("INSERT", {}, shutdown))


def test_s3_killed_mid_backup_fails_the_run_backs_off_lists_nothing_partial_and_the_next_try_succeeds() -> None:
    result = _staged("s3-down")

    assert result.problems == []  # failed, counted, backed off, nothing listed, retried, verified, orphans swept
    assert result.load is None
    failed, health, after = result.notes
    assert "the run failed in" in failed and "(TargetUnavailable)" in failed and "listed as no backup" in failed
    assert "1 failure in a row, next try 30 s after it" in health and health.endswith("succeeded")
    assert after == "the new backup verifies: True; the dead run's objects swept a day later: True"
