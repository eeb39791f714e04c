"""Forge invocation tokens used once across every instance: the digests of seen ``jti``s, in the database (S11).

Each process remembers the ``jti``s it accepted (:class:`pledge.trust.forge_fit.FitVerifier`), which catches a
replay to the same process without a round trip. This memory is what makes the rule hold across instances: a
``jti`` is recorded, as the SHA-256 digest of the app id and the ``jti`` (never the token), until its token expires
(the latest expiry of the batch it was written with); an insert that meets the same digest is a replay. Expired
digests are deleted by the ``forge-token-uses-sweep`` job: a token is refused for its expiry anyway, so they only
take space.

Every Forge call waits for its ``jti`` to be recorded, so the calls share the writing (group commit): the uses that
arrive while one transaction is being written go together into the next, one thread hop and one commit for all of
them, and each caller learns whether its own ``jti`` was new. A batch holds at most :data:`MAX_BATCH` digests; the
rest wait for the next, so a burst of calls cannot grow one statement without bound. The insert skips the digests
already there and returns those it wrote, so a replay in a batch refuses that call only, and the database's unique
key decides between two instances recording the same ``jti`` at once. A batch that cannot be written fails every call
in it with the database's error: no ``jti`` is accepted unrecorded.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Final

from sqlalchemy import JSON, Column, Engine, Index, Insert, String, Table, bindparam, delete, func, select, true
from sqlalchemy.dialects import postgresql, sqlite

from pledge.db import UtcDateTime, metadata
from pledge.jobs import Job, JobContext

forge_token_uses_table = Table(
    "forge_token_uses",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of app id and jti, hex
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_forge_token_uses_expires_at", "expires_at"),
)


MAX_BATCH: Final = 1000
"""Digests one transaction records at most: a bounded statement parameter, whatever the number of calls waiting."""


class _Use:
    """One digest of a batch: until when it is kept, and the calls waiting to learn whether it was new."""

    __slots__ = ("until", "waiters")

    def __init__(self, until: float, waiter: asyncio.Future[bool]) -> None:
        self.until = until
        self.waiters = [waiter]


class SharedTokenUses:
    """Insert-or-refuse of ``jti`` digests, shared by every instance on the database, written in batches on
    ``threads`` (the calls of one event loop)."""

    def __init__(self, engine: Engine, threads: Executor, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._threads = threads
        self._max_batch = max_batch
        self._insert = _insert_new(engine)
        self._gathering: dict[str, _Use] = {}  # the next batch, by digest
        self._writing = False

    async def use_once(self, app_id: str, jti: str, until: float) -> bool:
        """Record ``jti`` of ``app_id``'s tokens as used until ``until`` (epoch seconds); False if it already was.

        Raises the database's error when the batch it joined could not be written.
        """
        digest = hashlib.sha256(f"{app_id}\n{jti}".encode()).hexdigest()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        use = self._gathering.get(digest)
        if use is not None:
            use.waiters.append(waiter)
        else:
            if not self._gathering and not self._writing:
                # Written once this turn of the loop is over: the calls it reads now join the same batch.
                loop.call_soon(self._write)
            self._gathering[digest] = _Use(until, waiter)
        return await waiter

    def _write(self) -> None:
        if len(self._gathering) <= self._max_batch:
            batch, self._gathering = self._gathering, {}
        else:  # the first to arrive go first; the rest are the next batch
            waiting = iter(self._gathering.items())
            batch = dict(islice(waiting, self._max_batch))
            self._gathering = dict(waiting)
        self._writing = True
        loop = asyncio.get_running_loop()
        try:
            written = loop.run_in_executor(self._threads, self._record, batch)
        except RuntimeError as exc:  # the threads were shut down with the runtime
            written = loop.create_future()
            written.set_exception(exc)
        written.add_done_callback(functools.partial(self._settle, batch))

    def _record(self, batch: dict[str, _Use]) -> set[str]:
        """The digests of ``batch`` this transaction inserted: those it did not were recorded already.

        Sorted, so that two instances inserting the same digests take their row locks in the same order (PostgreSQL
        would otherwise find them deadlocked). Each is kept until the latest expiry of its batch: a little longer
        than its own token lives, which costs only space, for one bound value instead of one a row.
        """
        until = max(use.until for use in batch.values())
        parameters = {"digests": sorted(batch), "expires_at": datetime.fromtimestamp(until, UTC)}
        with self._engine.begin() as connection:
            return set(connection.execute(self._insert, parameters).scalars())

    def _settle(self, batch: dict[str, _Use], written: asyncio.Future[set[str]]) -> None:
        self._writing = False
        failure = asyncio.CancelledError() if written.cancelled() else written.exception()
        inserted = set() if failure is not None else written.result()
        for digest, use in batch.items():
            for position, waiter in enumerate(use.waiters):
                if waiter.done():  # its caller went away
                    continue
                if failure is not None:
                    waiter.set_exception(failure)
                else:
                    # The same jti twice in one batch: the first call is the one that used it.
                    waiter.set_result(position == 0 and digest in inserted)
        if self._gathering:  # arrived while this batch was being written: their turn now
            self._write()


def _insert_new(engine: Engine) -> Insert:
    """The insert of a batch of digests (one list parameter) that skips those already recorded and returns the ones
    it wrote: one statement whatever the batch's size, without a bound parameter per row."""
    table = forge_token_uses_table
    expires_at = bindparam("expires_at", type_=UtcDateTime())
    into: postgresql.Insert | sqlite.Insert
    if engine.dialect.name == "postgresql":
        query = select(func.unnest(bindparam("digests", type_=postgresql.ARRAY(String))), expires_at)
        into = postgresql.insert(table)
    else:
        each = func.json_each(bindparam("digests", type_=JSON)).table_valued("value")
        # SQLite reads ON CONFLICT after INSERT ... SELECT only when the SELECT has a WHERE clause.
        query = select(each.c.value, expires_at).where(true())
        into = sqlite.insert(table)
    new = into.from_select(["digest", "expires_at"], query).on_conflict_do_nothing(index_elements=[table.c.digest])
    return new.returning(table.c.digest)


def sweep_forge_token_uses(context: JobContext) -> None:
    """Delete the digests of tokens that have expired."""
    table = forge_token_uses_table
    with context.transaction() as connection:
        connection.execute(delete(table).where(table.c.expires_at < context.now()))


FORGE_TOKEN_USES_SWEEP = Job(
    name="forge-token-uses-sweep",
    period=timedelta(minutes=10),
    deadline=timedelta(minutes=5),
    run=sweep_forge_token_uses,
)
