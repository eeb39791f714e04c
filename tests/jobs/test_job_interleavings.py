"""Any interleaving of runners taking, using and finishing a job's lease as the clock moves, against a model:
never two holders at once, and at most one success per period."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Engine, delete, select

from pledge.clock import FrozenClock
from pledge.jobs import Job, JobRunner, LeaseLost, Outcome, Run
from pledge.jobs.runner import retry_wait
from pledge.jobs.tables import job_leases_table, job_runs_table

PERIOD = timedelta(hours=1)
DEADLINE = timedelta(minutes=5)
RUNNERS = 3
JOB = Job("job", PERIOD, DEADLINE, lambda _context: None)
MOVES = st.sampled_from([1, 30, 299, 300, 301, 3599, 3600, 36_000]).map(lambda seconds: timedelta(seconds=seconds))
runner_index = st.integers(0, RUNNERS - 1)


def test_interleavings_of_runners_and_clock_moves_keep_one_holder_and_one_success_a_period(engine: Engine) -> None:
    class Interleavings(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with engine.begin() as connection:
                connection.execute(delete(job_runs_table))
                connection.execute(delete(job_leases_table))
            self.clock = FrozenClock()
            self.runners = [JobRunner(engine, self.clock, [JOB], instance=f"r{i}") for i in range(RUNNERS)]
            self.runs: list[Run | None] = [None] * RUNNERS
            # The model: who holds the lease until when, and when the job is due.
            self.holder: int | None = None
            self.expires = self.clock.now()
            self.registered: datetime | None = None
            self.last_success: datetime | None = None
            self.failures: list[datetime] = []  # when each run since the last success failed

        def lease_is(self, index: int) -> bool:
            return self.holder == index and self.clock.now() < self.expires

        def due(self) -> bool:
            assert self.registered is not None
            due_at = self.registered if self.last_success is None else self.last_success + PERIOD
            if self.failures:
                due_at = max(due_at, self.failures[-1] + retry_wait(JOB, len(self.failures)))
            return self.clock.now() >= due_at

        @rule(index=runner_index)
        def start(self, index: int) -> None:
            self.registered = self.registered or self.clock.now()
            free = self.holder is None or self.clock.now() >= self.expires
            expected = free and self.due()
            run = self.runners[index].start(JOB.name)
            assert (run is not None) == expected
            if run is not None:
                self.runs[index] = run
                self.holder, self.expires = index, self.clock.now() + DEADLINE

        @precondition(lambda self: any(self.runs))
        @rule(index=runner_index)
        def write(self, index: int) -> None:
            run = self.runs[index]
            if run is None:
                return
            try:
                with run.context.transaction():
                    pass
            except LeaseLost:
                assert not self.lease_is(index)
            else:
                assert self.lease_is(index)

        @precondition(lambda self: any(self.runs))
        @rule(index=runner_index, succeeds=st.booleans())
        def finish(self, index: int, succeeds: bool) -> None:
            run = self.runs[index]
            if run is None:
                return
            self.runs[index] = None
            try:
                if succeeds:
                    run.succeed()
                else:
                    run.fail(RuntimeError())
            except LeaseLost:
                assert not self.lease_is(index)
                return
            assert self.lease_is(index)
            self.holder = None
            if succeeds:
                self.last_success, self.failures = run.context.started_at, []
            else:
                self.failures.append(self.clock.now())

        @rule(delta=MOVES)
        def advance(self, delta: timedelta) -> None:
            self.clock.advance(delta)

        @invariant()
        def one_holder_at_most(self) -> None:
            with engine.connect() as connection:
                lease = connection.execute(select(job_leases_table)).mappings().one_or_none()
            holders = [
                run
                for run in self.runs
                if run is not None
                and lease is not None
                and run.context.token == lease["token"]
                and self.clock.now() < lease["expires_at"]
            ]
            assert len(holders) <= 1

        @invariant()
        def one_success_a_period_at_most(self) -> None:
            with engine.connect() as connection:
                starts = (
                    connection.execute(
                        select(job_runs_table.c.started_at)
                        .where(job_runs_table.c.outcome == Outcome.SUCCEEDED)
                        .order_by(job_runs_table.c.started_at)
                    )
                    .scalars()
                    .all()
                )
            assert all(later - earlier >= PERIOD for earlier, later in itertools.pairwise(starts))

    run_state_machine_as_test(Interleavings, settings=settings(max_examples=40, stateful_step_count=25, deadline=None))
