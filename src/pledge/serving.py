"""Binds an app's declarations to a runtime: every route behind the verifier its ``Auth`` names (S11).

A verifier turns a request into a verified :class:`~pledge.app.Identity` or raises
:class:`~pledge.errors.Refused`; the caller then gets 401 (or the status it names) with a JSON reason code, never
a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from html import escape
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Router
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pledge.app import App, Auth, Endpoint, RequestContext
from pledge.backup.backups import Backups, RetentionTiers
from pledge.backup.targets import open_target
from pledge.backup.tombstones import Gone
from pledge.connect import connect_routes
from pledge.errors import ConfigurationError, Refused
from pledge.forge.installations import forge_tenant_data
from pledge.forge.mounting import forge_routes
from pledge.forge.requests import ForgeRequestVerifier
from pledge.json_answer import JsonAnswer
from pledge.legal import TRANSPARENCY_JSON_PATH, TRANSPARENCY_PAGE_PATH, LegalRequests
from pledge.refusal import refused
from pledge.runtime import Runtime
from pledge.transport.https import frame_ancestors
from pledge.trust.connect_jwt import ConnectVerifier
from pledge.trust.identity import Identity, Verifier

log = logging.getLogger("pledge.serving")


def backups_for(runtime: Runtime) -> Backups:
    """The deployment's backups: the runtime's database, vault and tenant data (every part a product registers,
    Forge's installations included), in the target ``PLEDGE_BACKUP_TARGET`` names."""
    return Backups(
        engine=runtime.engine,
        vault=runtime.vault,
        tenant_data=forge_tenant_data(runtime),
        target=open_target(runtime.settings, runtime.egress),
        clock=runtime.clock,
        retention_days=runtime.settings.backup_retention_days,
        tiers=RetentionTiers(runtime.settings.backup_keep_weekly, runtime.settings.backup_keep_monthly),
    )


def _depart(runtime: Runtime, tenant_id: str, realm: str) -> None:
    """A tenant moved to ``realm``: no backup here may bring it back (its tombstone), nor be read for it (its key
    copies deleted), though its data lives on there."""
    backups_for(runtime).bury(tenant_id, Gone.DEPARTED, realm=realm)


def verifiers_for(app: App, runtime: Runtime) -> dict[Auth, Verifier]:
    """The verifier of each authentication kind, bound to ``app`` and ``runtime``: this layer knows both products."""
    verifiers: dict[Auth, Verifier] = {
        Auth.CONNECT: ConnectVerifier(app.key, runtime, accept_context=False),
        Auth.CONNECT_CONTEXT: ConnectVerifier(app.key, runtime, accept_context=True),
    }
    if app.forge is not None:
        verifiers[Auth.FORGE] = ForgeRequestVerifier(app, app.forge, runtime)
    return verifiers


def build_app(app: App, runtime: Runtime, verifiers: Mapping[Auth, Verifier] | None = None) -> ASGIApp:
    if verifiers is None:
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
        StarletteRoute(
            page.path, _guarded(app, page.endpoint, Auth.CONNECT, verifiers, runtime, framed=True), methods=["GET"]
        )
        for page in app.pages
    ]
    routes += _transparency_routes(app, runtime, verifiers)
    routes += connect_routes(app, runtime)
    if app.forge is not None and Auth.FORGE in verifiers:
        routes += forge_routes(
            app, runtime, verifiers[Auth.FORGE], lambda tenant_id, realm: _depart(runtime, tenant_id, realm)
        )
    # A router, not a Starlette application: the host's middleware (errors, metrics) already wraps every mount,
    # and a second error and exception layer per request bought nothing. No slash redirects: one would be answered
    # before authentication, and would repeat the query (a page load's `jwt`) in its Location.
    return Router(routes=routes, redirect_slashes=False)


def _guarded(
    app: App,
    endpoint: Endpoint,
    auth: Auth,
    verifiers: Mapping[Auth, Verifier],
    runtime: Runtime,
    *,
    framed: bool = False,
) -> ASGIApp:
    """The route's handler behind its verifier. A ``framed`` page (the product shows it in an iframe) may be framed
    by the calling tenant's own site only."""
    verifier = verifiers.get(auth)
    if verifier is None and auth is not Auth.PUBLIC:
        raise ConfigurationError(f"no verifier for {auth.value!r} routes: this app cannot be served")
    return _Guarded(app, endpoint, verifier, runtime, framed)


class _Guarded:
    """A route's ASGI app: its verifier, then its handler. An ASGI app rather than a request function, so Starlette
    does not wrap it in a second exception layer: the host's exception handlers (and, for a fault, its edge) answer
    what it lets through."""

    __slots__ = ("app", "endpoint", "framed", "runtime", "verifier")

    def __init__(self, app: App, endpoint: Endpoint, verifier: Verifier | None, runtime: Runtime, framed: bool) -> None:
        self.app = app
        self.endpoint = endpoint
        self.verifier = verifier
        self.runtime = runtime
        self.framed = framed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self.answer(Request(scope, receive, send)))(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        identity: Identity | None = None
        if self.verifier is not None:
            try:
                identity = await self.verifier(request)
            except Refused as exc:
                return refused(request.scope, exc)
        response = as_response(await self.endpoint(RequestContext(request, identity, self.runtime, self.app)))
        if self.framed and identity is not None:
            response.headers["Content-Security-Policy"] = frame_ancestors(_origin(identity.tenant.base_url))
        return response


def _transparency_routes(app: App, runtime: Runtime, verifiers: Mapping[Auth, Verifier]) -> list[BaseRoute]:
    """The site's transparency view (S13): the legal requests about its own data that no gag order withholds.

    The page is a Connect admin page (the descriptor declares it, so the product shows it to administrators only);
    the JSON is for the app's frontend (a context JWT) or, for a Forge app, its Forge Remote calls (a FIT).
    """
    register = LegalRequests(runtime.engine, runtime.clock)

    async def records(context: RequestContext) -> list[dict[str, object]]:
        told = await run_in_threadpool(register.for_site, context.tenant.id)
        return [record.as_json() for record in told]

    async def as_json(context: RequestContext) -> Response:
        return JsonAnswer({"legal_requests": await records(context)})

    async def as_page(context: RequestContext) -> Response:
        return HTMLResponse(transparency_page(await records(context)))

    views = {TRANSPARENCY_PAGE_PATH: as_page, TRANSPARENCY_JSON_PATH: as_json}
    return [
        StarletteRoute(path, _guarded(app, views[path], auth, verifiers, runtime), methods=["GET"])
        for path, auth in transparency_views(app, verifiers).items()
    ]


def transparency_views(app: App, verifiers: Mapping[Auth, Verifier]) -> dict[str, Auth]:
    """The transparency view's paths ``app`` serves, each with the authentication it takes: only where that product's
    verifier is bound (a test host may bind fewer), never an unauthenticated view. The statement's ``legal-requests``
    check reads this, as the host mounts it."""
    json_auth = Auth.FORGE if app.forge is not None and Auth.FORGE in verifiers else Auth.CONNECT_CONTEXT
    wanted = {TRANSPARENCY_PAGE_PATH: Auth.CONNECT, TRANSPARENCY_JSON_PATH: json_auth}
    return {path: auth for path, auth in wanted.items() if auth in verifiers}


def transparency_page(records: list[dict[str, object]]) -> str:
    """The admin page: every value escaped (they passed the register's patterns, and are escaped all the same)."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(record[key]))}</td>" for key in _PAGE_COLUMNS) + "</tr>"
        for record in records
    )
    body = (
        f"<table><thead><tr><th>Recorded</th><th>Authority</th><th>Reference</th><th>Scope</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if records
        else "<p>No legal request concerning this site's data has been recorded (or may be shown).</p>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Legal requests</title></head>'
        f"<body><h1>Legal requests about this site's data</h1>{body}</body></html>"
    )


_PAGE_COLUMNS = ("recorded_at", "authority", "reference", "scope")


def as_response(result: object) -> Response:
    """Handlers may return a Response, JSON-able data, HTML text, or None (204)."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if isinstance(result, str):
        return HTMLResponse(result)
    return JsonAnswer(result)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
