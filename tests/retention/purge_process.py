"""A process running the ``tenant-purge`` job that kills itself with SIGKILL right after one step of a purge.

``python purge_process.py DATABASE_URL DATA_DIR NOW STEP``: the deployment's settings, the time (ISO 8601) its
clock stands at, and the step (:class:`pledge.retention.PurgeStep`) after which it dies.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from pledge.cli.jobs import purger
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB, PurgeStep
from pledge.runtime import Runtime


def main(database_url: str, data_dir: str, now: str, stop_after: str) -> None:
    settings = load_settings(data_dir=Path(data_dir), database_url=database_url)
    runtime = Runtime.open(settings, clock=FrozenClock(datetime.fromisoformat(now)))

    def observe(_tenant_id: str, step: PurgeStep) -> None:
        if step == stop_after:
            os.kill(os.getpid(), signal.SIGKILL)

    purge = dataclasses.replace(purger(runtime), observe=observe)
    JobRunner(runtime.engine, runtime.clock, [purge.job()]).run_now(PURGE_JOB)


if __name__ == "__main__":
    main(*sys.argv[1:])
