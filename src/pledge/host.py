"""The ASGI host: serves one or more apps beside the operational endpoints (health, readiness, metrics)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from functools import partial
from typing import Any, Final

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from pledge import schema
from pledge.app import App
from pledge.body_limit import BodyLimits
from pledge.connect.product_client import ProductRequestFailed
from pledge.db import error_reason, is_disk_full
from pledge.edge import Edge
from pledge.egress import EgressRefused, UnsafePath
from pledge.egress.socket_guard import EgressPolicy, SocketGuard, guarding
from pledge.egress.sub_processors import declared_by_deployment
from pledge.errors import PledgeError, Refused
from pledge.forge.api_client import ProductCallFailed, TokenUnavailable
from pledge.forge.routes import PEER_PATH
from pledge.jobs import JobRunner
from pledge.jobs.health import JobHealthCollector, describe_late
from pledge.logs import AccessLog
from pledge.metrics import Metrics, route_template
from pledge.mounts import app_base_path
from pledge.refusal import refusal, refused
from pledge.routing import IndexedRouter
from pledge.runtime import Runtime
from pledge.serving import build_app
from pledge.store import ConcurrentUpdate, InvalidValue, PersonalDataRefused, RecordNotFound, UndeclaredData
from pledge.tenants import TenantStateError
from pledge.transport.https import HttpsOnly, networks
from pledge.vault import KeyShredded

STORAGE_RETRY_AFTER_SECONDS = 30
MAX_TENANT_BUNDLE_BYTES: Final = 256 * 1024 * 1024
"""A realm migration hands a tenant's whole sealed data to the peer deployment in one request: the one body the
host takes beyond 1 MiB (it opens only with the shared transfer key)."""

PEER_IMPORT_PATH: Final = PEER_PATH + "/import"

CACHE_SWEEP_SECONDS: Final = 5.0
"""How often the host drops expired tenants' secrets and data keys from memory, requests or not."""

REFUSALS: Final[dict[type[PledgeError], tuple[int, str]]] = {
    PersonalDataRefused: (422, "personal_data_refused"),
    UndeclaredData: (422, "undeclared_data"),
    InvalidValue: (422, "invalid_value"),
    RecordNotFound: (404, "record_not_found"),
    ConcurrentUpdate: (409, "concurrent_update"),
    TenantStateError: (409, "tenant_state_conflict"),
    KeyShredded: (410, "tenant_data_shredded"),
    EgressRefused: (403, "egress_refused"),
    UnsafePath: (400, "unsafe_path"),
    TokenUnavailable: (403, "token_unavailable"),
    ProductRequestFailed: (502, "product_call_failed"),
    ProductCallFailed: (502, "product_call_failed"),
}
"""What each error a handler lets through means to the caller (the reasons a :class:`Refused` carries itself).

The one place they are decided: a store write refused for personal data is a 422 the client can act on, not a
500 that a Forge trigger would deliver four more times. The product failing a call is the one 5xx: it may pass.
"""

HTTP_ERROR_CODES: Final = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
"""Reason codes of Starlette's ``HTTPException``: no route, wrong method, a handler's 400; any other status is
``OTHER_HTTP_ERROR``."""
OTHER_HTTP_ERROR: Final = "http_error"

log = logging.getLogger("pledge.host")


def create_host(
    runtime: Runtime,
    apps: Sequence[App] = (),
    extra_routes: Sequence[BaseRoute] = (),
    *,
    owns_runtime: bool = False,
    jobs: JobRunner | None = None,
) -> Starlette:
    """The host ASGI app. With ``owns_runtime`` (``pledge serve``), shutting the host down also closes the
    runtime's outbound connections; tests that share one runtime between hosts leave it open. With ``jobs``, their
    health is in ``/readyz`` and ``/metrics``, and (``PLEDGE_JOBS_ENABLED``) the host runs them while it serves."""
    metrics = Metrics()
    if jobs is not None:
        metrics.registry.register(JobHealthCollector(jobs))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            await running.enter_async_context(
                runtime.tenant_changes.watching(runtime.settings.tenant_changes_poll_seconds)
            )
            if jobs is not None and runtime.settings.jobs_enabled:
                await running.enter_async_context(jobs.running_every(runtime.settings.jobs_tick_seconds))
            running.callback(asyncio.create_task(sweep_caches(runtime)).cancel)
            if owns_runtime:
                running.enter_context(egress_guarded(runtime, apps))
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
        late = await run_in_threadpool(jobs.late) if jobs is not None else []
        if late:
            # Degraded, still ready: a late backup is every instance's news, and a 503 would take all of them out
            # of the load balancer for something no single instance can fix by not serving.
            return JSONResponse({"status": "degraded", "reason": describe_late(late)})
        return JSONResponse({"status": "ready"})

    # The apps first: nearly every request is theirs, and each route tried before the match costs a regex match.
    routes: list[BaseRoute] = [
        *(Mount(app_base_path(app.key), build_app(app, runtime)) for app in apps),
        Route("/", front_page, methods=["GET"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
        *extra_routes,
    ]
    settings = runtime.settings
    access = AccessLog()

    def observe(method: str, template: str, status: int, seconds: float) -> None:
        metrics.observe(method, template, status, seconds)
        access(method, template, status, seconds)

    edge = partial(
        Edge,
        https=HttpsOnly(
            public_url=settings.public_url,
            allow_plain=settings.dev_mode,
            trusted_proxies=networks(settings.trusted_proxies),
            hsts_max_age=settings.hsts_max_age,
        ),
        refused=refused,
        bodies=BodyLimits(larger={app_base_path(app.key) + PEER_IMPORT_PATH: MAX_TENANT_BUNDLE_BYTES for app in apps}),
        observe=observe,
    )
    host = _Host(
        edge,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            OperationalError: storage_unavailable,
            PledgeError: answer_refusal,
            HTTPException: answer_http_exception,
        },
    )
    host.state.runtime = runtime
    return host


class _Host(Starlette):
    """Starlette with the host's edge outside everything: the edge answers a fault of the server (500
    ``internal_error``, the traceback logged, never sent), with the security headers and counted like any other
    answer, in place of Starlette's error middleware. Its router finds a fixed path's route by a lookup
    (:mod:`pledge.routing`)."""

    def __init__(
        self, edge: Callable[[ASGIApp], ASGIApp], *, routes: Sequence[BaseRoute], lifespan: Any, **options: Any
    ) -> None:
        super().__init__(**options)
        # No slash redirects: one would be answered before authentication and repeat the query (a page load's `jwt`)
        # in its Location. A path that differs by its slash is a 404 like any other.
        self.router = IndexedRouter(routes, lifespan=lifespan, redirect_slashes=False)
        self._edge = edge

    def build_middleware_stack(self) -> ASGIApp:
        # Starlette's order without its error middleware: the edge, the application's own middleware, the handlers.
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=self.exception_handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return self._edge(app)


async def sweep_caches(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(CACHE_SWEEP_SECONDS)
        runtime.sweep_caches()


async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A database that refuses to work (disk full, unreachable, locked too long) answers 503 in one line.

    The transaction that failed was rolled back, so nothing is half-written; the client may retry. A full disk has
    its own code (``storage_full``): it needs an operator, where an outage usually passes by itself.
    """
    reason = error_reason(exc)
    message = f"the database refused the operation: {reason}"
    where = f"{request.method} {route_template(request.scope)}: {reason}"
    if is_disk_full(exc):
        log.error("storage full: %s", where)
        response = refusal("storage_full", message, status_code=503)
    else:
        log.error("storage unavailable: %s", where)
        response = refusal("storage_unavailable", message, status_code=503)
    response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
    return response


async def front_page(_request: Request) -> JSONResponse:
    """``/``: where to read what this server is, rather than a bare 404."""
    return JSONResponse(
        {
            "service": "Pledge",
            "privacy": "/privacy",
            "privacy_json": "/privacy.json",
            "health": "/healthz",
            "docs": "docs/operations.md and docs/reason-codes.md in the Pledge distribution",
        }
    )


async def answer_refusal(request: Request, exc: Exception) -> Response:
    """Every refusal a route lets through, answered with its reason code and logged in one line."""
    if isinstance(exc, Refused):
        return refused(request.scope, exc)
    for kind in type(exc).__mro__:
        known = REFUSALS.get(kind)
        if known is not None:
            status, code = known
            return refused(request.scope, Refused(code, str(exc), status_code=status))
    raise exc  # not a refusal: a fault of this server, answered by the edge (500 internal_error)


async def answer_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (and a handler's ``HTTPException``) in the shape of every other refusal."""
    if isinstance(exc, PledgeError):  # both (egress's UnsafePath): Pledge's own reason code
        return await answer_refusal(request, exc)
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = HTTP_ERROR_CODES.get(exc.status_code, OTHER_HTTP_ERROR)
    response = refusal(code, exc.detail, status_code=exc.status_code)
    response.headers.update(exc.headers or {})
    return response


def egress_guarded(runtime: Runtime, apps: Sequence[App]) -> AbstractContextManager[object]:
    """The process's socket guard while the block runs (``pledge serve``), unless PLEDGE_EGRESS_GUARD=off."""
    return guarding(socket_guard(runtime, apps)) if runtime.settings.egress_guard == "strict" else nullcontext()


def socket_guard(runtime: Runtime, apps: Sequence[App]) -> SocketGuard:
    """The egress guard of a serving process: the outbound client's origins, the deployment's own public address
    (the statement probes it) and database, the tenants' product domains and the hosts of the apps' declared
    sub-processors; each refusal counted with the outbound client's."""
    database_host = runtime.engine.url.host
    declared = [
        host
        for sub in (*declared_by_deployment(runtime.settings), *(sub for app in apps for sub in app.sub_processors))
        for host in sub.hosts
    ]
    policy = EgressPolicy.of(
        [*runtime.egress.allowed, runtime.settings.public_url],
        runtime.settings.tenant_domains,
        also=[*declared, *([database_host] if database_host else [])],
    )
    return SocketGuard(policy, on_refusal=lambda: runtime.egress.record_refusal("socket"))
