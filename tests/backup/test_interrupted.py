"""A backup killed (kill -9) after its first segment lists as nothing; the next run succeeds; the orphan is swept
once it is a day old."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from backup_corpus import Corpus
from click.testing import CliRunner

from pledge.backup.backups import Backups
from pledge.backup.writer import AFTER_FIRST_SEGMENT_HOOK, run_backup, sweep_orphans
from pledge.cli import cli
from pledge.clock import FrozenClock
from pledge.config import Settings


def _environment(settings: Settings) -> dict[str, str]:
    return {
        "PLEDGE_DATA_DIR": str(settings.data_dir),
        "PLEDGE_DATABASE_URL": settings.resolved_database_url,
    }


def test_a_backup_killed_mid_way_is_not_complete_and_the_next_run_succeeds(
    settings: Settings, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    environment = {**os.environ, **_environment(settings), AFTER_FIRST_SEGMENT_HOOK: str(marker)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from pledge.cli import main; main()", "backup", "run"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the backup never reached its first segment"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    written = (settings.data_dir / "backups").rglob("*")
    assert any(path.name == "platform" for path in written)

    runner = CliRunner()
    listed = runner.invoke(cli, ["backup", "list"], env=_environment(settings))
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[-1].startswith("0 complete backups")
    ran = runner.invoke(cli, ["backup", "run"], env=_environment(settings))
    assert ran.exit_code == 0, ran.output
    listed = runner.invoke(cli, ["backup", "list"], env=_environment(settings))
    assert listed.stdout.splitlines()[-1].startswith("1 complete backups")


def test_segments_of_a_backup_that_never_published_are_swept_once_a_day_old(
    backups: Backups, corpus: Corpus, clock: FrozenClock
) -> None:
    def interrupted() -> None:
        raise RuntimeError("killed before the manifest")

    with pytest.raises(RuntimeError):
        run_backup(backups, before_publish=interrupted)
    orphaned = backups.target.list("backups/")
    assert orphaned and backups.complete_ids() == []
    clock.advance(timedelta(hours=23))
    assert sweep_orphans(backups) == []
    clock.advance(timedelta(hours=2))
    complete = run_backup(backups)
    assert [name for name in backups.target.list("backups/") if name in orphaned] == []
    assert backups.complete_ids() == [complete.backup_id]
