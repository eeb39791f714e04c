"""Work done again and again in a worker thread while a server runs: the job tick, the tenant-changes poll."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

log = logging.getLogger("pledge.periodic")


@asynccontextmanager
async def every(seconds: float, work: Callable[[], object], *, what: str, first_before: bool) -> AsyncIterator[None]:
    """Run ``work`` in a worker thread every ``seconds`` until the block ends; a run under way finishes first.

    ``first_before``: the first run completes before the block starts (what it sets up is needed at once);
    otherwise the first run starts with the block. A run that raises is logged and the next one tries again: a
    database down for a while must not end the loop.
    """

    async def run() -> None:
        try:
            await anyio.to_thread.run_sync(work)
        except Exception:
            log.exception("%s failed; trying again in %.1f s", what, seconds)

    async def loop(at_once: bool) -> None:
        if at_once:
            await run()
        while True:
            await anyio.sleep(seconds)
            await run()

    if first_before:
        await run()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(loop, not first_before)
        try:
            yield
        finally:
            tasks.cancel_scope.cancel()
