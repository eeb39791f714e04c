"""The backup job runs at least daily and catches up once after downtime; the dead-man signal (a late backup job) and
the statement's backup claims fail on a running deployment as soon as their promise stops holding."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from backup_corpus import Corpus

from pledge.backup.backups import Backups
from pledge.backup.claims import check_backup_daily, check_backup_encrypted, check_restore_drill
from pledge.backup.schedule import BACKUP_JOB, DRILL_JOB, backup_jobs
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.errors import ConfigurationError
from pledge.jobs import JobRunner, Outcome
from pledge.runtime import Runtime
from pledge.statement.facts import Deployment, gather


class Backed:
    def __init__(self, backups: Backups) -> None:
        self._backups = backups

    def backups(self) -> Backups:
        return self._backups


def _runner(backups: Backups, clock: FrozenClock) -> JobRunner:
    return JobRunner(backups.engine, clock, backup_jobs(backups, timedelta(hours=24)))


def test_the_backup_runs_daily_catches_up_once_and_goes_late_after_26_hours(
    backups: Backups, corpus: Corpus, clock: FrozenClock
) -> None:
    runner = _runner(backups, clock)
    assert [(r.name, r.outcome) for r in runner.tick()] == [
        (BACKUP_JOB, Outcome.SUCCEEDED),
        (DRILL_JOB, Outcome.SUCCEEDED),
    ]
    assert len(backups.complete_ids()) == 1
    clock.advance(timedelta(hours=23))
    assert runner.tick() == []
    clock.advance(timedelta(hours=3))  # 26 h since the last backup began: due for 2 h, its deadline
    assert [s.job.name for s in runner.late()] == []
    clock.advance(timedelta(minutes=1))
    assert [s.job.name for s in runner.late()] == [BACKUP_JOB]
    clock.advance(timedelta(days=5))  # downtime: one run catches up
    assert [r.name for r in runner.tick()] == [BACKUP_JOB, DRILL_JOB]
    assert len(backups.complete_ids()) == 2 and runner.late() == []


def test_a_period_above_a_day_is_refused_with_the_promise() -> None:
    with pytest.raises(ConfigurationError, match='at most 24: the statement promises "we back up at least daily'):
        load_settings(backup_period_hours=25)
    with pytest.raises(ConfigurationError, match="keep backups at least a month"):
        load_settings(backup_retention_days=29)


def test_the_claims_pass_on_fresh_evidence_and_fail_when_it_ages(
    backups: Backups, corpus: Corpus, clock: FrozenClock
) -> None:
    deployment = Backed(backups)
    facts = gather(load_settings(), [])
    assert not check_backup_daily(deployment, facts).passed
    assert not check_restore_drill(deployment, facts).passed
    runner = _runner(backups, clock)
    for _ in range(3):
        runner.tick()
        clock.advance(timedelta(hours=24))
    daily = check_backup_daily(deployment, facts)
    assert daily.passed, daily.detail
    assert "3 complete backups" in daily.detail and "never more than 24.0 h apart" in daily.detail
    encrypted = check_backup_encrypted(deployment, facts)
    assert encrypted.passed, encrypted.detail
    assert check_restore_drill(deployment, facts).passed

    clock.advance(timedelta(hours=3))  # no backup for 27 h
    daily = check_backup_daily(deployment, facts)
    assert not daily.passed and "is 27.0 h old" in daily.detail
    clock.advance(timedelta(hours=22))  # no drill for 49 h
    assert not check_restore_drill(deployment, facts).passed
    runner.tick()
    assert check_restore_drill(deployment, facts).passed
    # The newest backup is fresh again, but the window holds a 49-hour gap: the promise did not hold then.
    gap = check_backup_daily(deployment, facts)
    assert not gap.passed and "the newest 0.0 h old, never more than 49.0 h apart" in gap.detail


def test_backup_encrypted_fails_when_the_directory_is_readable_by_others(
    backups: Backups, corpus: Corpus, clock: FrozenClock
) -> None:
    _runner(backups, clock).tick()
    root = backups.target.root  # type: ignore[attr-defined]
    root.chmod(0o755)
    evidence = check_backup_encrypted(Backed(backups), None)
    assert not evidence.passed and "has mode 0755" in evidence.detail


def test_the_statement_verifies_the_backup_claims_from_the_deployments_target(runtime: Runtime) -> None:
    from pledge.cli.jobs import job_runner
    from pledge.statement.verify import Outcome as Verified
    from pledge.statement.verify import verify

    job_runner(runtime).tick()
    deployment = Deployment.of(runtime, [])
    verification = asyncio.run(verify(deployment, gather(runtime.settings, []), version_id=None))
    outcomes = {r.claim_id: r.outcome for r in verification.results}
    assert {outcomes[c] for c in ("backup-daily", "backup-encrypted", "restore-drill")} == {Verified.PASSED}
