"""The store as handlers use it: every call runs the synchronous :class:`TenantStore` on a worker thread.

Handlers run on the event loop; a store call waits on the database (a SQLite write waits up to the busy timeout for
another writer's lock, a PostgreSQL query for the network). Run there, one slow call stalls every request of the
process, ``/healthz`` included. :class:`AsyncTenantStore` hands each call to a worker thread
(``anyio.to_thread.run_sync``) and awaits it, so the loop keeps serving while the call waits.

Why threads and not SQLAlchemy's asyncio extension: the synchronous store runs its hot statements on the driver's
cursor (:mod:`pledge.prepared`), which is what keeps encryption cheaper than SQLAlchemy's own per-call work; the
asyncio extension would run the same driver calls through greenlets plus its own adaptation layer (aiosqlite is
itself a thread per connection), lose the prepared path, and keep a second copy of every statement. A thread hop
costs about 40 µs per call (``timeit`` of an empty ``to_thread.run_sync`` on uvloop, development machine), a tenth
of a SQLite write; ``bench/store_roundtrip.py`` measures the whole authenticated round trip under load.

The threads are bounded by a :class:`~anyio.CapacityLimiter` that the runtime owns (:func:`store_limiter`), sized to
the engine's pool: more calls at once would only wait for a pooled connection on a thread, or open overflow
connections that are closed again after one use. Calls past the limit wait on the loop, costing nothing. Jobs and
the CLI, which have no event loop to protect, use :class:`TenantStore` directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from pledge.store.tenant_store import DEFAULT_LIMIT, Record, TenantStore

Result = TypeVar("Result")
Arguments = TypeVarTuple("Arguments")

UNPOOLED_THREADS = 5
"""Threads for an engine without a sized pool (``NullPool``, ``StaticPool``): SQLAlchemy's default pool size."""


def store_limiter(engine: Engine) -> CapacityLimiter:
    """A limiter for the store calls of one engine: as many at once as its pool keeps connections."""
    pool = engine.pool
    return CapacityLimiter(pool.size() if isinstance(pool, QueuePool) else UNPOOLED_THREADS)


class AsyncTenantStore:
    """One tenant's records of one app, awaited from a handler: ``await context.store.create(...)``.

    The same calls, arguments, results and errors as :class:`TenantStore`, each run on a worker thread.
    """

    def __init__(self, store: TenantStore, limiter: CapacityLimiter) -> None:
        self._store = store
        self._limiter = limiter

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
        return await to_thread.run_sync(call, *args, limiter=self._limiter)
