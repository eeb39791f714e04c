"""Binds an app's declarations to a runtime: every route behind the verifier its ``Auth`` names (S11).

A verifier turns a request into a verified :class:`~pledge.app.Identity` or raises
:class:`~pledge.errors.Refused`; the caller then gets 401 (or the status it names) with a JSON reason code, never
a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Router
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Scope

from pledge.app import App, Auth, Endpoint, Identity, RequestContext
from pledge.errors import ConfigurationError, Refused
from pledge.runtime import Runtime

log = logging.getLogger("pledge.serving")


class Verifier(Protocol):
    async def __call__(self, request: Request) -> Identity: ...


def build_app(app: App, runtime: Runtime, verifiers: Mapping[Auth, Verifier] | None = None) -> ASGIApp:
    if verifiers is None:
        from pledge.trust import verifiers_for

        verifiers = verifiers_for(app, runtime)
    routes: list[BaseRoute] = [
        StarletteRoute(
            route.path, _guarded(app, route.endpoint, route.auth, verifiers, runtime), methods=list(route.methods)
        )
        for route in app.routes
    ]
    routes += [
        StarletteRoute(hook.path, _guarded(app, hook.endpoint, Auth.CONNECT, verifiers, runtime), methods=["POST"])
        for hook in app.webhooks
    ]
    routes += [
        StarletteRoute(page.path, _guarded(app, page.endpoint, Auth.CONNECT, verifiers, runtime), methods=["GET"])
        for page in app.pages
    ]
    from pledge.connect import connect_routes

    routes += connect_routes(app, runtime)
    if app.forge is not None and Auth.FORGE in verifiers:
        from pledge.forge.routes import forge_routes

        routes += forge_routes(app, runtime, verifiers[Auth.FORGE])
    # A router, not a Starlette application: the host's middleware (errors, metrics) already wraps every mount,
    # and a second error and exception layer per request bought nothing. No slash redirects: one would be answered
    # before authentication, and would repeat the query (a page load's `jwt`) in its Location.
    return Router(routes=routes, redirect_slashes=False)


def _guarded(app: App, endpoint: Endpoint, auth: Auth, verifiers: Mapping[Auth, Verifier], runtime: Runtime) -> Any:
    verifier = verifiers.get(auth)
    if verifier is None and auth is not Auth.PUBLIC:
        raise ConfigurationError(f"no verifier for {auth.value!r} routes: this app cannot be served")

    async def handle(request: Request) -> Response:
        identity: Identity | None = None
        if verifier is not None:
            try:
                identity = await verifier(request)
            except Refused as exc:
                return refused(request.scope, exc)
        return as_response(await endpoint(RequestContext(request, identity, runtime, app)))

    return handle


def raw_header(request: Request, name: bytes) -> bytes | None:
    """A header's raw value straight from the ASGI scope (``name`` lowercase, as ASGI delivers names).

    Verifiers read their headers this way: Starlette's ``Headers`` is built per request, and its ``get`` of an
    absent header raises and catches a KeyError (about 1 µs each; the Forge route asks for two that are often absent).
    """
    for key, value in request.scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def refusal(code: str, message: str, *, status_code: int = 401) -> JSONResponse:
    """The 4xx every refusal becomes: a reason code of docs/reason-codes.md and one line, never a stack trace.

    A 413 also closes the connection: the rest of a body too large to take is not read.
    """
    headers = _CLOSE if status_code == 413 else None
    return JSONResponse({"error": code, "message": message}, status_code=status_code, headers=headers)


_CLOSE: Final = {"Connection": "close"}


def refused(scope: Scope, exc: Refused) -> JSONResponse:
    """Log a refusal in one line (method, path, reason code, message: never a value the caller sent) and answer it."""
    log.info("refused %s %s: %s: %s", scope["method"], scope["path"], exc.code, exc)
    return refusal(exc.code, str(exc), status_code=exc.status_code)


def as_response(result: object) -> Response:
    """Handlers may return a Response, JSON-able data, HTML text, or None (204)."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str):
        return HTMLResponse(result)
    return JSONResponse(result)
