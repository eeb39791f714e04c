"""The host's router: Starlette's, with the answer to "which route takes this request?" looked up, not searched.

Starlette finds a request's route by trying each route's regular expression in turn, through every mount: for an
app's route that is the host's list, the mount's pattern, then the app's list, on every request. Nearly every route
an app declares has a fixed path, so :class:`IndexedRouter` asks Starlette that question once per fixed path and
method, when it is first called, and keeps the answer: the route and what its matching wrote into the scope. A
request whose method and path are in the index gets that route by one dict lookup; any other (a path with
parameters, a method the route refuses, a router mounted under a root path) goes through Starlette's search as
before. The answers are Starlette's own, so the two ways cannot route one request differently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

_PLAIN_ROUTES = (Route, Mount, WebSocketRoute)
"""The route types whose matching reads only the scope's type, path, root path and method: what the index replays.
A router holding any other (a ``Host`` reads headers) is not indexed."""


class _Hit:
    """A request's route, and the scope entries Starlette's routers and mounts set on the way to it."""

    __slots__ = ("route", "updates")

    def __init__(self, route: Route, updates: Mapping[str, Any]) -> None:
        self.route = route
        self.updates = dict(updates)


class IndexedRouter(Router):
    """A router answering requests for its fixed paths from an index built from Starlette's own matching.

    The index is built when the router first serves a request, and again whenever its list of routes has changed
    length since (a route mounted later, as tests do). Routes are found in the order Starlette tries them, so a route
    appended later cannot take an indexed request from an earlier one, and a request the index lacks is routed as
    Starlette routes it. (Routes are declared before serving; one inserted ahead of others while serving would not
    be seen by the index until the host's own list changes length.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: dict[tuple[str, str], _Hit] = {}
        self._indexed_routes = -1

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and "app_root_path" not in scope:
            if len(self.routes) != self._indexed_routes:
                self._index = build_index(self)
                self._indexed_routes = len(self.routes)
            hit = self._index.get((scope["method"], scope["path"]))
            if hit is not None:
                scope.setdefault("router", self)
                scope.update(hit.updates)
                scope["path_params"] = {}  # the request's own: a handler may change it
                await hit.route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


def build_index(router: Router) -> dict[tuple[str, str], _Hit]:
    """Each fixed path below ``router`` with each method of its route, mapped to the route Starlette gives a request
    for them and the scope entries it sets; only requests Starlette answers with a route's handler (a full match)."""
    index: dict[tuple[str, str], _Hit] = {}
    for path, methods in _fixed_paths(router.routes, ""):
        for method in methods:
            hit = _route_for(router, {"type": "http", "path": path, "root_path": "", "method": method})
            if hit is not None:
                index[(method, path)] = hit
    return index


def _fixed_paths(routes: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, frozenset[str]]]:
    for route in routes:
        if type(route) is Route and not route.param_convertors and route.methods:
            yield prefix + route.path, frozenset(route.methods)
        elif type(route) is Mount and route.param_convertors.keys() == {"path"}:  # its remainder's only
            inner = _plain_router(route.app)
            if inner is not None:
                yield from _fixed_paths(inner.routes, prefix + route.path)


def _route_for(router: Router, scope: dict[str, Any]) -> _Hit | None:
    """What Starlette's ``Router.app`` does with ``scope``, down through mounts, without calling any handler: the
    route it would hand the request to, and the scope entries set on the way; None unless that is a full match of a
    :class:`Route` reached through plain routers and mounts only, with no path parameters on the way."""
    updates: dict[str, Any] = {}
    while True:
        if any(type(route) not in _PLAIN_ROUTES for route in router.routes):
            return None
        match = next(
            ((route, child) for route in router.routes for kind, child in [route.matches(scope)] if kind is Match.FULL),
            None,
        )
        if match is None:
            return None
        route, child = match
        scope = {**scope, **child}
        updates |= {"route": route, **child}
        if type(route) is Route:
            if scope.get("path_params"):
                return None  # a route with parameters (or under a mount with some) took it: searched each time
            updates.pop("path_params", None)
            return _Hit(route, updates)
        inner = _plain_router(route.app) if type(route) is Mount else None
        if inner is None:
            return None
        router = inner


def _plain_router(app: object) -> Router | None:
    """``app`` when it is a router whose requests go straight to its routes (no middleware of its own)."""
    if type(app) in (Router, IndexedRouter) and app.middleware_stack == app.app:  # type: ignore[attr-defined]
        return app  # type: ignore[return-value]
    return None
