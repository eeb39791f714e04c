"""The ASGI host: serves one or more apps beside the operational endpoints (health, readiness, metrics)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from pledge import schema
from pledge.db import error_reason
from pledge.metrics import Metrics, MetricsMiddleware
from pledge.runtime import Runtime

APPS_PREFIX = "/apps"
STORAGE_RETRY_AFTER_SECONDS = 30

log = logging.getLogger("pledge.host")


class Mountable(Protocol):
    """What the host needs of an app: its key (the URL segment) and an ASGI application bound to the runtime."""

    @property
    def key(self) -> str: ...

    def asgi(self, runtime: Runtime) -> ASGIApp: ...


def app_base_path(key: str) -> str:
    return f"{APPS_PREFIX}/{key}"


def create_host(
    runtime: Runtime,
    apps: Sequence[Mountable] = (),
    extra_routes: Sequence[BaseRoute] = (),
    *,
    owns_runtime: bool = False,
) -> Starlette:
    """The host ASGI app. With ``owns_runtime`` (``pledge serve``), shutting the host down also closes the
    runtime's outbound connections; tests that share one runtime between hosts leave it open."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if owns_runtime:
            # The outbound client's pooled connections belong to the server's event loop: close them on it.
            await runtime.egress.aclose()

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> JSONResponse:
        try:
            current = await run_in_threadpool(schema.status, runtime.engine)
        except schema.DatabaseUnavailable as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        if not current.is_current:
            return JSONResponse({"status": "unavailable", "reason": current.describe()}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
        *extra_routes,
        *(Mount(app_base_path(app.key), app.asgi(runtime)) for app in apps),
    ]
    host = Starlette(routes=routes, lifespan=lifespan, exception_handlers={OperationalError: storage_unavailable})
    host.add_middleware(MetricsMiddleware, metrics=metrics)
    host.state.runtime = runtime
    return host


async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database that refuses to work (disk full, unreachable, locked too long) answers 503 in one line.

    The transaction that failed was rolled back, so nothing is half-written; the client may retry.
    """
    reason = error_reason(exc)
    log.error("storage unavailable: %s %s: %s", request.method, request.url.path, reason)
    return JSONResponse(
        {"error": "storage_unavailable", "message": f"the database refused the operation: {reason}"},
        status_code=503,
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )
