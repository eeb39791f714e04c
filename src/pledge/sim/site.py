"""A simulated Atlassian Cloud site: a small product REST API that refuses unauthenticated calls, and a recorder.

Protocols plug in: Connect (``pledge.sim.connect_site``) and Forge add their routes with :meth:`SimSite.add_route` and
their REST credentials with :meth:`SimSite.add_authenticator`. Every request the site receives and every request
the simulated product sends is recorded, so tests assert on what really crossed the wire (S11).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge.clock import Clock

Direction = Literal["received", "sent"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response, as seen by the site."""

    direction: Direction
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_body: bytes

    def response_json(self) -> Any:
        return json.loads(self.response_body) if self.response_body else None

    @classmethod
    def sent(cls, response: httpx.Response) -> Exchange:
        """A request the simulated product sent, with the response it read."""
        request = response.request
        return cls(
            direction="sent",
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            body=request.content,
            status=response.status_code,
            response_body=response.content,
        )


class Recorder:
    """Everything the site received and sent, in order; safe to read from the test's thread."""

    def __init__(self) -> None:
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def received(self, path: str = "") -> list[Exchange]:
        """Requests the site received whose URL contains ``path``."""
        return [e for e in self.all() if e.direction == "received" and path in e.url]

    def sent(self, path: str = "") -> list[Exchange]:
        """Requests the simulated product sent whose URL contains ``path``."""
        return [e for e in self.all() if e.direction == "sent" and path in e.url]


@dataclass(frozen=True, slots=True)
class RestCaller:
    """Who a REST call was authenticated as: the scheme that recognised it and the app it acts for."""

    scheme: str
    app_key: str


class RestRefused(Exception):
    """A REST call that presented credentials of a known scheme that did not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


RestAuthenticator = Callable[[Request], Awaitable[RestCaller | None]]
"""Recognises its own scheme (returns the caller, or raises RestRefused) and returns None for any other."""


def _default_issues() -> dict[str, dict[str, Any]]:
    return {
        "SIM-1": {"summary": "Printer on fire", "status": "In Progress"},
        "SIM-2": {"summary": "Coffee machine descales itself at 3 am", "status": "To Do"},
    }


@dataclass
class SimSite:
    """One simulated site at ``base_url`` (``context_path`` e.g. ``/wiki`` for Confluence)."""

    base_url: str
    clock: Clock
    product: str = "jira"
    context_path: str = ""
    cloud_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    issues: dict[str, dict[str, Any]] = field(default_factory=_default_issues)
    recorder: Recorder = field(default_factory=Recorder)
    _routes: list[BaseRoute] = field(default_factory=list, init=False)
    _authenticators: list[RestAuthenticator] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.add_route(self.context_path + "/rest/api/3/issue/{key}", self._issue)
        self.add_route(self.context_path + "/rest/api/3/myself", self._myself)

    @property
    def product_url(self) -> str:
        """The product's base URL as apps see it (the ``baseUrl`` of an install): origin plus context path."""
        return self.base_url + self.context_path

    def add_route(
        self, path: str, endpoint: Callable[[Request], Awaitable[Response]], methods: tuple[str, ...] = ("GET",)
    ) -> None:
        self._routes.append(Route(path, endpoint, methods=list(methods)))

    def serve_rest_under(self, prefix: str) -> None:
        """Also answer the REST API under ``prefix``: Forge calls go to ``{apiBaseUrl}`` = ``/ex/jira/{cloudId}``."""
        self.add_route(prefix + "/rest/api/3/issue/{key}", self._issue)
        self.add_route(prefix + "/rest/api/3/myself", self._myself)

    def add_authenticator(self, authenticator: RestAuthenticator) -> None:
        self._authenticators.append(authenticator)

    async def authenticate(self, request: Request) -> RestCaller:
        for authenticator in self._authenticators:
            caller = await authenticator(request)
            if caller is not None:
                return caller
        raise RestRefused("no credentials this site accepts")

    def asgi(self) -> ASGIApp:
        return _Recording(Starlette(routes=list(self._routes)), self.recorder, self.base_url)

    async def _issue(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        key = request.path_params["key"]
        issue = self.issues.get(key)
        if issue is None:
            return JSONResponse(
                {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}, 404
            )
        return JSONResponse({"key": key, "id": str(10000 + list(self.issues).index(key)), "fields": dict(issue)})

    async def _myself(self, request: Request) -> Response:
        caller = await self._caller(request)
        if isinstance(caller, Response):
            return caller
        return JSONResponse({"accountId": f"app:{caller.app_key}", "accountType": "app", "active": True})

    async def _caller(self, request: Request) -> RestCaller | Response:
        try:
            return await self.authenticate(request)
        except RestRefused as exc:
            return JSONResponse({"error": "unauthorized", "reason": exc.reason}, status_code=401)


class _Recording:
    """ASGI middleware that records each received request with its response."""

    def __init__(self, app: ASGIApp, recorder: Recorder, base_url: str) -> None:
        self._app = app
        self._recorder = recorder
        self._base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        body = bytearray()
        response_body = bytearray()
        status = 0

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def send_recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                response_body.extend(message.get("body", b""))
            await send(message)

        await self._app(scope, receive_recorded, send_recorded)
        query = scope.get("query_string", b"").decode("utf-8", "replace")
        url = self._base_url + scope.get("raw_path", scope["path"].encode()).decode("utf-8", "replace")
        self._recorder.record(
            Exchange(
                direction="received",
                method=scope["method"],
                url=url + (f"?{query}" if query else ""),
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
                body=bytes(body),
                status=status,
                response_body=bytes(response_body),
            )
        )
