"""One instance of the multi-process test: ticks a job runner on a PostgreSQL schema until told to stop.

Time is the `test_clock` table's one row, which the test moves; with ``--hang`` the job, once started, never
returns (the test kills this process with SIGKILL mid-run).
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime, timedelta

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select, update

from pledge.db import UtcDateTime, open_engine
from pledge.jobs import Job, JobContext, JobRunner

PERIOD = timedelta(hours=1)
DEADLINE = timedelta(minutes=5)
TICK_PAUSE_SECONDS = 0.02

test_metadata = MetaData()
clock_table = Table("test_clock", test_metadata, Column("id", Integer, primary_key=True), Column("now", UtcDateTime))
appended = Table(
    "test_appended",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("instance", String(64), nullable=False),
)
ticks = Table("test_ticks", test_metadata, Column("instance", String(64), primary_key=True), Column("count", Integer))
stop = Table("test_stop", test_metadata, Column("id", Integer, primary_key=True))


class TableClock:
    """The time every process agrees on: the one row of ``test_clock``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def now(self) -> datetime:
        with self._engine.connect() as connection:
            now: datetime = connection.execute(select(clock_table.c.now)).scalar_one()
        return now

    def timestamp(self) -> float:
        return self.now().timestamp()


def appending_job(instance: str, hang: bool) -> Job:
    def run(context: JobContext) -> None:
        if hang:
            signal.pause()  # hangs mid-run until the test's SIGKILL: no time passes for the job itself
        with context.transaction() as connection:
            connection.execute(insert(appended).values(started_at=context.started_at, instance=instance))

    return Job("append", PERIOD, DEADLINE, run)


def main(url: str, instance: str, hang: bool) -> None:
    engine = open_engine(url)
    runner = JobRunner(engine, TableClock(engine), [appending_job(instance, hang)], instance=instance)
    with engine.begin() as connection:
        connection.execute(insert(ticks).values(instance=instance, count=0))
    while True:
        with engine.connect() as connection:
            if connection.execute(select(stop.c.id)).first() is not None:
                return
        runner.tick()
        with engine.begin() as connection:
            connection.execute(update(ticks).where(ticks.c.instance == instance).values(count=ticks.c.count + 1))
        time.sleep(TICK_PAUSE_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], hang="--hang" in sys.argv[3:])
