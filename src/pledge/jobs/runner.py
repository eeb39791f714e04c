"""Run each declared job once per period across every instance on one database: a fenced lease row per job.

A run takes the job's lease (its row's fencing token grows by one), records itself as running, does the work, and
records its outcome in a transaction that first checks the token and the expiry (:func:`pledge.jobs.job.fence`):
an instance paused past its lease (GC, a stopped VM) commits nothing once it wakes. A holder that dies leaves its
lease to expire after the job's deadline; the next instance takes it, marks the dead run abandoned, and runs the job.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Connection, Engine, RowMapping, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pledge.clock import Clock
from pledge.errors import PledgeError
from pledge.jobs.job import Job, JobContext, LeaseLost, fence
from pledge.jobs.tables import Outcome, job_leases_table, job_runs_table
from pledge.periodic import every

log = logging.getLogger("pledge.jobs")

MAX_INSTANCE: Final = 128
HISTORY_LIMIT: Final = 50
FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_RETRY: Final = timedelta(hours=1)
leases = job_leases_table
runs = job_runs_table


class UnknownJob(PledgeError):
    """No job of that name is declared."""


class JobBusy(PledgeError):
    """Another instance holds the job's lease: it is running there."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One line of a job's history."""

    name: str
    token: int
    instance: str
    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What ``/readyz``, ``/metrics`` and ``pledge jobs list`` say of a job."""

    job: Job
    next_due: datetime
    last_success: datetime | None
    last_failure: datetime | None
    last_duration_seconds: float | None
    overdue_seconds: float
    """How long the job has been due without a success (0 when it is not due yet)."""
    failures_in_a_row: int
    """Failed runs since the last success: each one doubles the wait before the next attempt."""
    next_attempt: datetime
    """When an instance will next try the job: its due time, or later while it is backing off after failures."""

    @property
    def is_late(self) -> bool:
        """Due for longer than a run may take: no instance has run it when it should have."""
        return self.overdue_seconds > self.job.deadline.total_seconds()


class Run:
    """A run that holds its job's lease: the work goes through :attr:`context`, then :meth:`succeed` or :meth:`fail`."""

    def __init__(self, job: Job, context: JobContext, run_id: int) -> None:
        self.job = job
        self.context = context
        self.id = run_id

    def succeed(self) -> None:
        self._finish(Outcome.SUCCEEDED, None)

    def fail(self, exc: BaseException) -> None:
        self._finish(Outcome.FAILED, type(exc).__name__)

    def _finish(self, outcome: Outcome, error: str | None) -> None:
        """Record the outcome and release the lease in one fenced transaction (:class:`LeaseLost` if not ours)."""
        now = self.context.clock.now()
        with self.context.engine.begin() as connection:
            fence(connection, self.job.name, self.context.token, now)
            connection.execute(
                update(runs).where(runs.c.id == self.id).values(outcome=outcome, finished_at=now, error=error)
            )
            connection.execute(
                update(leases)
                .where((leases.c.name == self.job.name) & (leases.c.token == self.context.token))
                .values(holder=None, expires_at=now)
            )


class JobRunner:
    """The declared jobs of this deployment and the one way they run: due, under the lease, exactly once."""

    def __init__(self, engine: Engine, clock: Clock, jobs: Sequence[Job], *, instance: str | None = None) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"jobs declared twice: {sorted({name for name in names if names.count(name) > 1})}")
        self.engine = engine
        self.clock = clock
        self.jobs = {job.name: job for job in jobs}
        self.instance = (instance or f"{socket.gethostname()}:{os.getpid()}")[:MAX_INSTANCE]

    def tick(self) -> list[RunRecord]:
        """Run every job that is due and whose lease is free; what ran, in order. A job's failure is recorded and
        the job stays due: it is retried :data:`FIRST_RETRY` later, the wait doubling with each failure in a row up
        to :data:`LONGEST_RETRY` (never longer than its period), so a dead dependency is not hammered."""
        done = []
        for name in self.jobs:
            run = self.start(name)
            if run is not None:
                done.append(self.execute(run))
        return done

    def run_now(self, name: str) -> RunRecord:
        """Run ``name`` now, due or not, under its lease: :class:`JobBusy` while another instance runs it."""
        run = self.start(name, force=True)
        if run is None:
            raise JobBusy(f"job {name} is running on another instance: see `pledge jobs history {name}`")
        return self.execute(run)

    def start(self, name: str, *, force: bool = False) -> Run | None:
        """Take the job's lease and record the run as started, if it is due (or ``force``) and the lease is free."""
        job = self.job(name)
        now = self.clock.now()
        self._register(job, now)
        with self.engine.connect() as connection, connection.begin() as transaction:
            taken = connection.execute(
                update(leases)
                .where((leases.c.name == name) & (leases.c.holder.is_(None) | (leases.c.expires_at <= now)))
                .values(holder=self.instance, token=leases.c.token + 1, expires_at=now + job.deadline)
            )
            # Due is read after the lease is ours: a success committed by the previous holder is visible by now.
            due = _next_attempt(connection, job)
            if taken.rowcount != 1 or (not force and due is not None and due > now):
                transaction.rollback()
                return None
            token = connection.execute(select(leases.c.token).where(leases.c.name == name)).scalar_one()
            connection.execute(
                update(runs)
                .where((runs.c.name == name) & (runs.c.outcome == Outcome.RUNNING))
                .values(outcome=Outcome.ABANDONED)
            )
            run_id = connection.execute(
                insert(runs).values(
                    name=name, token=token, instance=self.instance, started_at=now, outcome=Outcome.RUNNING
                )
            ).inserted_primary_key
            transaction.commit()
        assert run_id is not None
        context = JobContext(name=name, token=token, started_at=now, engine=self.engine, clock=self.clock)
        return Run(job, context, int(run_id[0]))

    def execute(self, run: Run) -> RunRecord:
        """Do the run's work and record its outcome; a run that lost its lease records nothing."""
        name = run.job.name
        try:
            run.job.run(run.context)
        except LeaseLost:
            log.warning("job %s: run %d lost its lease and stopped", name, run.context.token)
        except Exception as exc:
            if isinstance(exc, PledgeError):
                # Pledge's own failures (a target unreachable, a key server down) say what happened, safely, in one
                # line; anything else is a bug, and its traceback goes to the log.
                log.error("job %s: run %d failed: %s", name, run.context.token, exc)
            else:
                log.exception("job %s: run %d failed", name, run.context.token)
            _unless_lost(run.fail, exc)
        else:
            _unless_lost(run.succeed)
        with self.engine.connect() as connection:
            return _record(connection.execute(select(runs).where(runs.c.id == run.id)).mappings().one())

    def status(self) -> list[JobStatus]:
        now = self.clock.now()
        with self.engine.connect() as connection:
            return [_status(connection, job, now) for job in self.jobs.values()]

    def late(self) -> list[JobStatus]:
        """Jobs due for longer than their deadline."""
        return [status for status in self.status() if status.is_late]

    def history(self, name: str | None = None, *, limit: int = HISTORY_LIMIT) -> list[RunRecord]:
        """The latest runs, newest first (of ``name`` only, if given)."""
        query = select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(runs.c.name == self.job(name).name)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [_record(row) for row in rows]

    def job(self, name: str) -> Job:
        job = self.jobs.get(name)
        if job is None:
            raise UnknownJob(f"no job {name!r}: `pledge jobs list` shows the jobs there are")
        return job

    def running_every(self, seconds: float) -> AbstractAsyncContextManager[None]:
        """Tick in a worker thread every ``seconds`` until the block ends; a run under way finishes first."""
        return every(seconds, self.tick, what="jobs: the tick", first_before=False)

    def _register(self, job: Job, now: datetime) -> None:
        """Create the job's lease row the first time any instance sees the job: it is due from then on."""
        with self.engine.connect() as connection:
            if connection.execute(select(leases.c.name).where(leases.c.name == job.name)).first() is not None:
                return
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(leases).values(name=job.name, holder=None, token=0, expires_at=now, registered_at=now)
                )
        except IntegrityError:
            pass  # another instance registered it first


def _record(row: RowMapping) -> RunRecord:
    return RunRecord(
        name=row["name"],
        token=row["token"],
        instance=row["instance"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=Outcome(row["outcome"]),
        error=row["error"],
    )


def _unless_lost(finish: Callable[..., None], *args: BaseException) -> None:
    try:
        finish(*args)
    except LeaseLost as exc:
        log.warning("%s: its outcome is not recorded", exc)


def _next_due(connection: Connection, job: Job) -> datetime | None:
    """A period after the start of the last success; without one, when the job was first registered (None: never)."""
    last_success = _last(connection, job.name, Outcome.SUCCEEDED, runs.c.started_at)
    if last_success is not None:
        return last_success + job.period
    registered: datetime | None = connection.execute(
        select(leases.c.registered_at).where(leases.c.name == job.name)
    ).scalar_one_or_none()
    return registered


def _next_attempt(connection: Connection, job: Job) -> datetime | None:
    """The due time, pushed back after failures in a row: FIRST_RETRY after the first, doubling to LONGEST_RETRY."""
    return _backed_off(job, _next_due(connection, job), *_failures_since_success(connection, job.name))


def _backed_off(job: Job, due: datetime | None, failures: int, last_failure: datetime | None) -> datetime | None:
    if due is None or last_failure is None:
        return due
    return max(due, last_failure + retry_wait(job, failures))


def retry_wait(job: Job, failures_in_a_row: int) -> timedelta:
    """How long after its latest failure a job is tried again."""
    doublings = min(failures_in_a_row - 1, 16)  # past any cap already; bounds the power
    return min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY, job.period)


def _failures_since_success(connection: Connection, name: str) -> tuple[int, datetime | None]:
    """How many runs failed after the start of the last success, and when the latest of them finished."""
    since = _last(connection, name, Outcome.SUCCEEDED, runs.c.started_at)
    condition = (runs.c.name == name) & (runs.c.outcome == Outcome.FAILED)
    if since is not None:
        condition &= runs.c.started_at > since
    count, latest = connection.execute(select(func.count(), func.max(runs.c.finished_at)).where(condition)).one()
    return int(count), latest


def _last(connection: Connection, name: str, outcome: Outcome, column: ColumnElement[datetime]) -> datetime | None:
    found: datetime | None = connection.execute(
        select(func.max(column)).where((runs.c.name == name) & (runs.c.outcome == outcome))
    ).scalar_one_or_none()
    return found


def _status(connection: Connection, job: Job, now: datetime) -> JobStatus:
    due = _next_due(connection, job)
    next_due = due or now
    failures, latest_failure = _failures_since_success(connection, job.name)
    last_finished = connection.execute(
        select(runs.c.started_at, runs.c.finished_at)
        .where((runs.c.name == job.name) & runs.c.outcome.in_([Outcome.SUCCEEDED, Outcome.FAILED]))
        .order_by(runs.c.finished_at.desc(), runs.c.id.desc())
        .limit(1)
    ).first()
    return JobStatus(
        job=job,
        next_due=next_due,
        last_success=_last(connection, job.name, Outcome.SUCCEEDED, runs.c.finished_at),
        last_failure=_last(connection, job.name, Outcome.FAILED, runs.c.finished_at),
        last_duration_seconds=None
        if last_finished is None
        else (last_finished.finished_at - last_finished.started_at).total_seconds(),
        overdue_seconds=max(0.0, (now - next_due).total_seconds()),
        failures_in_a_row=failures,
        next_attempt=_backed_off(job, due, failures, latest_failure) or now,
    )
