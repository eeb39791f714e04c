"""What a job is: a name, a period, a deadline and a function that does the work under a fenced lease."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, Engine, update

from pledge.clock import Clock
from pledge.errors import PledgeError
from pledge.jobs.tables import job_leases_table

JOB_NAME: Final = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MAX_JOB_NAME: Final = 64


class LeaseLost(PledgeError):
    """The run's lease expired or another instance took it: what it would write is refused (fencing)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job. ``deadline`` is how long one run may take: the lease lasts that long, and the job is overdue
    (``/readyz`` degrades) once it has been due for longer than that."""

    name: str
    period: timedelta
    deadline: timedelta
    run: Callable[[JobContext], None]

    def __post_init__(self) -> None:
        if len(self.name) > MAX_JOB_NAME or not JOB_NAME.fullmatch(self.name):
            raise ValueError(f"job name {self.name!r} is not lower-case words joined by '-' (at most 64 characters)")
        if self.period <= timedelta(0) or self.deadline <= timedelta(0):
            raise ValueError(f"job {self.name}: period and deadline must be positive")


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a running job is given: its lease's fencing token, the clock, and fenced transactions to write in."""

    name: str
    token: int
    started_at: datetime
    engine: Engine
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that commits only while this run still holds its lease; else :class:`LeaseLost`.

        The fence is an UPDATE of the lease row, first in the transaction: it takes the row's lock (PostgreSQL) or
        the database's write lock (SQLite), so no other instance can take the lease before this commit ends.
        """
        with self.engine.begin() as connection:
            fence(connection, self.name, self.token, self.clock.now())
            yield connection

    def check(self) -> None:
        """Raise :class:`LeaseLost` if the lease is no longer this run's: a long job can stop early."""
        with self.transaction():
            pass


def fence(connection: Connection, name: str, token: int, now: datetime) -> None:
    table = job_leases_table
    held = connection.execute(
        update(table)
        .where((table.c.name == name) & (table.c.token == token) & (table.c.expires_at > now))
        .values(token=table.c.token)
    )
    if held.rowcount != 1:
        raise LeaseLost(f"job {name}: the lease of run {token} expired or was taken by another instance")
