"""Three runner processes on one PostgreSQL schema, one killed with SIGKILL mid-run: one success a period."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

# pytest puts this directory on sys.path (no __init__.py here): the test reads the tables the processes write.
from job_process_runner import DEADLINE, PERIOD, appended, clock_table, stop, test_metadata, ticks
from sqlalchemy import Engine, func, insert, select, update

from pledge import schema
from pledge.db import open_engine
from pledge.jobs import Outcome
from pledge.jobs.tables import job_runs_table

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).with_name("job_process_runner.py")
WAIT_SECONDS = 60
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def shared(postgres_url: str) -> Iterator[Engine]:
    engine = open_engine(postgres_url)
    schema.upgrade(engine)
    test_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(clock_table).values(id=1, now=T0))
    yield engine
    engine.dispose()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll real time for what other processes do; the job's own time is the shared clock table."""
    give_up = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_three_processes_run_a_job_once_a_period_through_a_kill_mid_run(shared: Engine, postgres_url: str) -> None:
    def scalar(query: object) -> int:
        with shared.connect() as connection:
            return int(connection.execute(query).scalar_one())  # type: ignore[call-overload]

    def successes() -> int:
        return scalar(select(func.count()).where(job_runs_table.c.outcome == Outcome.SUCCEEDED))

    def tick_counts() -> dict[str, int]:
        with shared.connect() as connection:
            return {instance: count for instance, count in connection.execute(select(ticks.c.instance, ticks.c.count))}

    def move_clock(delta: timedelta) -> None:
        with shared.begin() as connection:
            now = connection.execute(select(clock_table.c.now)).scalar_one()
            connection.execute(update(clock_table).values(now=now + delta))

    def successes_reach(count: int) -> bool:
        return successes() >= count

    def survivors_ticked_since(seen: dict[str, int]) -> bool:
        counts = tick_counts()
        return all(counts[name] >= seen[name] + 2 for name in ("p1", "p2"))

    def spawn(instance: str, *flags: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(SCRIPT), postgres_url, instance, *flags])

    victim = spawn("victim", "--hang")
    processes = [victim]
    try:
        wait_until(lambda: scalar(select(func.count()).select_from(job_runs_table)) == 1, "the victim's run")
        processes += [spawn("p1"), spawn("p2")]
        wait_until(lambda: min(tick_counts().get(name, 0) for name in ("p1", "p2")) >= 2, "the others' ticks")
        assert successes() == 0  # the victim holds the lease
        victim.kill()
        victim.wait()
        move_clock(DEADLINE)
        for period in range(4):
            if period:
                move_clock(PERIOD)
            wait_until(partial(successes_reach, period + 1), f"the success of period {period}")
            # Every survivor has run a whole tick since: a second success in this period would show now.
            seen = tick_counts()
            wait_until(partial(survivors_ticked_since, seen), "the survivors' next ticks")
            assert successes() == period + 1
        with shared.connect() as connection:
            starts = connection.execute(select(appended.c.started_at).order_by(appended.c.started_at)).scalars().all()
            outcomes = connection.execute(select(job_runs_table.c.instance, job_runs_table.c.outcome)).all()
        first = T0 + DEADLINE
        assert starts == [first + PERIOD * period for period in range(4)]
        assert ("victim", Outcome.ABANDONED) in [(instance, Outcome(outcome)) for instance, outcome in outcomes]
        assert {instance for instance, outcome in outcomes if outcome == Outcome.SUCCEEDED} <= {"p1", "p2"}
    finally:
        with shared.begin() as connection:
            connection.execute(insert(stop).values(id=1))
        for process in processes:
            try:
                process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
