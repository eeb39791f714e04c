"""The job runner on both engines: when a job is due, that it runs once across runners, and the lease's fence."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select

from pledge.clock import FrozenClock
from pledge.db import open_engine
from pledge.jobs import Job, JobBusy, JobContext, JobRunner, LeaseLost, Outcome, UnknownJob

PERIOD = timedelta(hours=1)
DEADLINE = timedelta(minutes=5)

test_metadata = MetaData()
appended = Table("test_job_rows", test_metadata, Column("id", Integer, primary_key=True), Column("by", String(128)))


def appending_job(name: str = "append") -> Job:
    """A job whose every run appends one row through the fenced transaction."""

    def run(context: JobContext) -> None:
        with context.transaction() as connection:
            connection.execute(insert(appended).values(by=f"{context.name}:{context.token}"))

    return Job(name=name, period=PERIOD, deadline=DEADLINE, run=run)


def failing_job() -> Job:
    def run(_context: JobContext) -> None:
        raise RuntimeError("the work failed")

    return Job(name="fails", period=PERIOD, deadline=DEADLINE, run=run)


@pytest.fixture
def rows(engine: Engine) -> Engine:
    test_metadata.create_all(engine)
    return engine


def appended_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(appended)).scalar_one())


def outcomes(runner: JobRunner, name: str) -> list[Outcome]:
    return [record.outcome for record in reversed(runner.history(name))]


def test_a_new_job_is_due_at_once_then_a_period_after_its_last_success(rows: Engine, clock: FrozenClock) -> None:
    runner = JobRunner(rows, clock, [appending_job()], instance="a")
    assert [record.outcome for record in runner.tick()] == [Outcome.SUCCEEDED]
    [status] = runner.status()
    assert status.next_due == clock.now() + PERIOD
    clock.advance(PERIOD - timedelta(seconds=1))
    assert runner.tick() == []
    clock.advance(timedelta(seconds=1))
    assert len(runner.tick()) == 1
    assert appended_count(rows) == 2


def test_after_downtime_a_job_catches_up_with_one_run_not_one_per_missed_period(
    rows: Engine, clock: FrozenClock
) -> None:
    runner = JobRunner(rows, clock, [appending_job()], instance="a")
    runner.tick()
    clock.advance(PERIOD * 10)
    assert len(runner.tick()) == 1
    assert runner.tick() == []
    assert appended_count(rows) == 2
    assert runner.status()[0].next_due == clock.now() + PERIOD


def test_a_second_runner_on_another_engine_does_not_run_what_the_first_ran(
    rows: Engine, clock: FrozenClock, database_url: str
) -> None:
    other_engine = open_engine(database_url)
    try:
        first = JobRunner(rows, clock, [appending_job()], instance="a")
        second = JobRunner(other_engine, clock, [appending_job()], instance="b")
        assert len(first.tick()) == 1
        assert second.tick() == []
        clock.advance(PERIOD)
        assert len(second.tick()) == 1
        assert first.tick() == []
        assert appended_count(rows) == 2
    finally:
        other_engine.dispose()


def test_runners_racing_on_one_due_job_run_it_exactly_once(rows: Engine, clock: FrozenClock, database_url: str) -> None:
    engines = [open_engine(database_url) for _ in range(4)]
    runners = [JobRunner(engine, clock, [appending_job()], instance=f"r{i}") for i, engine in enumerate(engines)]
    barrier = threading.Barrier(len(runners))
    ran: list[int] = []

    def race(runner: JobRunner) -> None:
        barrier.wait()
        ran.append(len(runner.tick()))

    try:
        threads = [threading.Thread(target=race, args=(runner,)) for runner in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(ran) == [0, 0, 0, 1]
    assert appended_count(rows) == 1


def test_while_one_runner_holds_the_lease_another_neither_runs_nor_forces_the_job(
    rows: Engine, clock: FrozenClock
) -> None:
    holder = JobRunner(rows, clock, [appending_job()], instance="a")
    other = JobRunner(rows, clock, [appending_job()], instance="b")
    assert holder.start("append") is not None
    assert other.tick() == []
    with pytest.raises(JobBusy):
        other.run_now("append")


def test_a_holder_whose_lease_expired_and_was_taken_cannot_write_or_record_success(
    rows: Engine, clock: FrozenClock
) -> None:
    paused = JobRunner(rows, clock, [appending_job()], instance="paused")
    other = JobRunner(rows, clock, [appending_job()], instance="other")
    stale = paused.start("append")
    assert stale is not None
    clock.advance(DEADLINE)
    assert [record.instance for record in other.tick()] == ["other"]
    with pytest.raises(LeaseLost), stale.context.transaction():
        pytest.fail("a fenced transaction of a lost lease must not open")
    with pytest.raises(LeaseLost):
        stale.succeed()
    assert appended_count(rows) == 1
    assert outcomes(other, "append") == [Outcome.ABANDONED, Outcome.SUCCEEDED]


def test_a_holder_past_its_deadline_cannot_commit_even_before_anyone_takes_the_lease(
    rows: Engine, clock: FrozenClock
) -> None:
    runner = JobRunner(rows, clock, [appending_job()], instance="a")
    run = runner.start("append")
    assert run is not None
    clock.advance(DEADLINE)
    with pytest.raises(LeaseLost):
        run.succeed()
    with pytest.raises(LeaseLost):
        run.context.check()


def test_a_run_killed_mid_way_is_run_again_once_its_lease_expires(rows: Engine, clock: FrozenClock) -> None:
    killed = JobRunner(rows, clock, [appending_job()], instance="killed")
    assert killed.start("append") is not None  # ...and the process dies here
    successor = JobRunner(rows, clock, [appending_job()], instance="successor")
    clock.advance(DEADLINE - timedelta(seconds=1))
    assert successor.tick() == []
    clock.advance(timedelta(seconds=1))
    [record] = successor.tick()
    assert (record.instance, record.outcome) == ("successor", Outcome.SUCCEEDED)
    assert outcomes(successor, "append") == [Outcome.ABANDONED, Outcome.SUCCEEDED]
    assert appended_count(rows) == 1


def test_a_failing_job_records_its_failure_and_is_retried_after_a_wait_that_doubles(
    engine: Engine, clock: FrozenClock
) -> None:
    runner = JobRunner(engine, clock, [failing_job()], instance="a")
    [record] = runner.tick()
    assert (record.outcome, record.error) == (Outcome.FAILED, "RuntimeError")  # the class, never the message
    waits = []
    for _ in range(9):
        [status] = runner.status()
        waits.append(status.next_attempt - clock.now())
        clock.advance(waits[-1] - timedelta(seconds=1))
        assert runner.tick() == []  # backing off: a dead dependency is not hammered every tick
        clock.advance(timedelta(seconds=1))
        assert [record.outcome for record in runner.tick()] == [Outcome.FAILED]
    assert [wait.total_seconds() for wait in waits] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    [status] = runner.status()
    assert (status.failures_in_a_row, status.last_success, status.last_failure) == (10, None, clock.now())
    assert status.overdue_seconds == sum(wait.total_seconds() for wait in waits)  # overdue counts from when due


def test_a_success_ends_the_backoff(engine: Engine, clock: FrozenClock) -> None:
    fails = {"now": True}

    def run(_context: JobContext) -> None:
        if fails["now"]:
            raise RuntimeError("the dependency is down")

    runner = JobRunner(engine, clock, [Job(name="flaky", period=PERIOD, deadline=DEADLINE, run=run)], instance="a")
    runner.tick()
    clock.advance(timedelta(seconds=30))
    runner.tick()
    fails["now"] = False
    assert runner.status()[0].failures_in_a_row == 2
    assert runner.run_now("flaky").outcome == Outcome.SUCCEEDED
    [status] = runner.status()
    assert (status.failures_in_a_row, status.next_attempt) == (0, clock.now() + PERIOD)


def test_the_retry_wait_never_exceeds_the_period(engine: Engine, clock: FrozenClock) -> None:
    def run(_context: JobContext) -> None:
        raise RuntimeError("down")

    quick = Job(name="quick", period=timedelta(seconds=45), deadline=timedelta(seconds=10), run=run)
    runner = JobRunner(engine, clock, [quick], instance="a")
    for _ in range(3):
        runner.tick()
        clock.advance(timedelta(seconds=45))
    [status] = runner.status()
    assert status.last_failure is not None and status.next_attempt - status.last_failure == timedelta(seconds=45)


def test_run_now_runs_a_job_that_is_not_due_and_moves_its_next_due_time(rows: Engine, clock: FrozenClock) -> None:
    runner = JobRunner(rows, clock, [appending_job()], instance="a")
    runner.tick()
    clock.advance(timedelta(minutes=10))
    assert runner.run_now("append").outcome == Outcome.SUCCEEDED
    assert runner.status()[0].next_due == clock.now() + PERIOD
    with pytest.raises(UnknownJob):
        runner.run_now("nope")


def test_a_job_is_late_once_due_for_longer_than_its_deadline(engine: Engine, clock: FrozenClock) -> None:
    runner = JobRunner(engine, clock, [failing_job()], instance="a")
    runner.tick()
    clock.advance(DEADLINE)
    assert runner.late() == []
    clock.advance(timedelta(seconds=1))
    assert [status.job.name for status in runner.late()] == ["fails"]


def test_job_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="job name"):
        Job(name="Not A Name", period=PERIOD, deadline=DEADLINE, run=lambda _context: None)
    with pytest.raises(ValueError, match="positive"):
        Job(name="zero", period=timedelta(0), deadline=DEADLINE, run=lambda _context: None)


def test_a_run_that_outlives_its_deadline_records_nothing_and_the_next_tick_runs_the_job_again(
    rows: Engine, clock: FrozenClock
) -> None:
    def overrun(context: JobContext) -> None:
        clock.advance(DEADLINE)  # the run takes as long as it may: its lease has expired when it writes
        with context.transaction() as connection:
            connection.execute(insert(appended).values(by="late"))

    runner = JobRunner(rows, clock, [Job("append", PERIOD, DEADLINE, overrun)], instance="a")
    [record] = runner.tick()
    assert (record.outcome, record.finished_at) == (Outcome.RUNNING, None)
    assert appended_count(rows) == 0
    [again] = runner.tick()
    assert again.token == record.token + 1
    assert outcomes(runner, "append") == [Outcome.ABANDONED, Outcome.RUNNING]
