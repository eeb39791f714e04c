"""`pledge jobs list | run NAME | history [NAME]`: what an operator sees of the scheduled jobs, one line a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from pledge import schema
from pledge.cli import cli
from pledge.config import load_settings
from pledge.jobs import JobRunner, builtin_jobs
from pledge.runtime import Runtime
from pledge.tenants.registry import lifecycle_tokens_table

SWEEP = "tenant-lifecycle-tokens-sweep"


@pytest.fixture
def migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    return runtime


def test_run_sweeps_expired_lifecycle_tokens_and_history_shows_the_run(migrated: Runtime) -> None:
    now = datetime.now(UTC)
    with migrated.engine.begin() as connection:
        connection.execute(
            insert(lifecycle_tokens_table),
            [
                {"digest": "a" * 64, "expires_at": now - timedelta(minutes=1)},
                {"digest": "b" * 64, "expires_at": now + timedelta(hours=1)},
            ],
        )
    runner = CliRunner()
    ran = runner.invoke(cli, ["jobs", "run", SWEEP])
    assert ran.exit_code == 0, ran.output
    with migrated.engine.connect() as connection:
        assert connection.execute(select(lifecycle_tokens_table.c.digest)).scalars().all() == ["b" * 64]

    listed = runner.invoke(cli, ["jobs", "list"])
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "PERIOD", "DEADLINE"]
    assert [row.split()[:3] for row in rows] == [
        [SWEEP, "3600s", "300s"],
        ["forge-token-uses-sweep", "600s", "300s"],
        ["backup", "86400s", "7200s"],
        ["backup-restore-drill", "86400s", "14400s"],
        ["tenant-purge", "3600s", "600s"],
        ["record-retention", "3600s", "600s"],
        ["personal-data-reporting", "3600s", "1800s"],
    ]

    history = runner.invoke(cli, ["jobs", "history", SWEEP])
    header, *rows = history.stdout.splitlines()
    assert header.split() == ["NAME", "STARTED", "FINISHED", "OUTCOME", "DURATION", "INSTANCE"]
    [line] = rows
    assert line.split()[0] == SWEEP and line.split()[3] == "succeeded"
    migrated.close()


def test_run_is_refused_in_one_line_while_another_instance_holds_the_lease(migrated: Runtime) -> None:
    holder = JobRunner(migrated.engine, migrated.clock, builtin_jobs(), instance="elsewhere")
    assert holder.start(SWEEP) is not None
    busy = CliRunner().invoke(cli, ["jobs", "run", SWEEP])
    assert busy.exit_code == 1 and busy.stderr.startswith("pledge: job ") and busy.stderr.count("\n") == 1
    history = CliRunner().invoke(cli, ["jobs", "history"])
    assert [line.split()[3] for line in history.stdout.splitlines()[1:]] == ["running"]
    with migrated.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(lifecycle_tokens_table)).scalar_one() == 0
    migrated.close()


def test_an_unknown_job_is_one_line(migrated: Runtime) -> None:
    migrated.close()
    for arguments in (["jobs", "run", "nope"], ["jobs", "history", "nope"]):
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 1 and "no job 'nope'" in result.stderr and result.stderr.count("\n") == 1
