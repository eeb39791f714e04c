"""The backup jobs (docs/jobs.md): a backup at least daily, then pruning; a restore drill daily.

The dead-man signal is the job runner's: the backup job's deadline is :data:`BACKUP_DEADLINE`, so with the daily
period it is late — ``/readyz`` degraded, ``pledge_job_overdue_seconds{job="backup"}`` above its deadline — once the
last successful backup started more than 26 hours ago.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from pledge.backup.backups import Backups
from pledge.backup.drill import restore_drill
from pledge.backup.pruning import prune
from pledge.backup.writer import run_backup
from pledge.jobs import Job, JobContext

BACKUP_JOB: Final = "backup"
DRILL_JOB: Final = "backup-restore-drill"
BACKUP_DEADLINE: Final = timedelta(hours=2)
DRILL_PERIOD: Final = timedelta(hours=24)
DRILL_DEADLINE: Final = timedelta(hours=4)
MAXIMUM_PERIOD: Final = timedelta(hours=24)


def backup_jobs(backups: Backups, period: timedelta) -> tuple[Job, Job]:
    """The backup job (every ``period``, at most a day) and the restore drill."""
    if period > MAXIMUM_PERIOD:
        raise ValueError("backups are made at least daily (S5)")

    def back_up(context: JobContext) -> None:
        # The manifest publishes the backup: a run that lost its lease meanwhile publishes nothing.
        run_backup(backups, before_publish=context.check)
        prune(backups)

    def drill(context: JobContext) -> None:
        restore_drill(backups)

    return (
        Job(name=BACKUP_JOB, period=period, deadline=BACKUP_DEADLINE, run=back_up),
        Job(name=DRILL_JOB, period=DRILL_PERIOD, deadline=DRILL_DEADLINE, run=drill),
    )
