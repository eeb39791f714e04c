"""The store as handlers use it: every call runs the synchronous :class:`TenantStore` on a worker thread.

Handlers run on the event loop; a store call waits on the database (a SQLite write waits up to the busy timeout for
another writer's lock, a PostgreSQL query for the network). Run there, one slow call stalls every request of the
process, ``/healthz`` included. :class:`AsyncTenantStore` hands each call to a worker thread and awaits it, so the
loop keeps serving while the call waits.

Why threads and not SQLAlchemy's asyncio extension: the synchronous store runs its hot statements on the driver's
cursor (:mod:`pledge.store._prepared`), which is what keeps encryption cheaper than SQLAlchemy's own per-call work; the
asyncio extension would run the same driver calls through greenlets and its own adaptation layer (aiosqlite is
itself a thread per connection), lose the prepared path, and keep a second copy of every statement.

Why a plain :class:`~concurrent.futures.ThreadPoolExecutor` and not ``anyio.to_thread.run_sync``: under 32
concurrent callers a hop to it costs about 15 to 20 µs of CPU, against 45 to 65 µs through anyio's worker threads and
capacity limiter (``timeit``-style loop on uvloop, development machine): on SQLite's write-then-read route of
``bench/store_roundtrip.py`` anyio's hops lost a fifth of its requests/s, the executor's 1 to 2 %.

The runtime owns the pool (:func:`store_threads`, shut down with the runtime), sized to the engine's connection
pool: more threads would only wait for a pooled connection, or open overflow connections that are closed again
after one use. Calls past that wait in the pool's queue, not on the loop. Jobs and the CLI, which have no event loop
to protect, use :class:`TenantStore` directly.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from pledge.store.tenant_store import DEFAULT_LIMIT, Record, TenantStore

Result = TypeVar("Result")
Arguments = TypeVarTuple("Arguments")

UNPOOLED_THREADS = 5
"""Threads for an engine without a sized pool (``NullPool``, ``StaticPool``): SQLAlchemy's default pool size."""


def store_threads(engine: Engine) -> ThreadPoolExecutor:
    """Worker threads for the store calls of one engine's handlers: as many as its pool keeps connections."""
    pool = engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else UNPOOLED_THREADS
    return ThreadPoolExecutor(size, thread_name_prefix="pledge-store")


class AsyncTenantStore:
    """One tenant's records of one app, awaited from a handler: ``await context.store.create(...)``.

    The same calls, arguments, results and errors as :class:`TenantStore`, each run on a worker thread.
    """

    def __init__(self, store: TenantStore, threads: ThreadPoolExecutor) -> None:
        self._store = store
        self._threads = threads

    @property
    def tenant_id(self) -> str:
        return self._store.tenant_id

    @property
    def app_key(self) -> str:
        return self._store.app_key

    async def create(self, collection: str, values: Mapping[str, Any]) -> Record:
        """Store a new record and return it with its generated id."""
        return await self._run(self._store.create, collection, values)

    async def get(self, collection: str, record_id: str) -> Record:
        return await self._run(self._store.get, collection, record_id)

    async def update(self, collection: str, record_id: str, values: Mapping[str, Any]) -> Record:
        """Change the given fields of a record and keep the others; returns the record as stored."""
        return await self._run(self._store.update, collection, record_id, values)

    async def delete(self, collection: str, record_id: str) -> None:
        await self._run(self._store.delete, collection, record_id)

    async def list(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> list[Record]:
        """Records in id order (creation order), all ``where`` fields equal to their values (indexed fields only).

        Page through with ``after=<the last id of the previous page>``.
        """
        return await self._run(functools.partial(self._store.list, collection, where=where, limit=limit, after=after))

    async def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        return await self._run(functools.partial(self._store.count, collection, where=where))

    async def _run(self, call: Callable[[*Arguments], Result], *args: *Arguments) -> Result:
        # The caller's context variables go along, as they would with a direct call.
        work = functools.partial(call, *args)
        return await asyncio.wrap_future(self._threads.submit(contextvars.copy_context().run, work))
