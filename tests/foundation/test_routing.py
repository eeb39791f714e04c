"""The host's indexed router sends every request where Starlette's own search would, with the same scope."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Host, Mount, Route, Router
from starlette.testclient import TestClient

from pledge.app import App, Auth, RequestContext
from pledge.host import create_host
from pledge.routing import IndexedRouter
from pledge.runtime import Runtime

SEEN_KEYS = ("route", "root_path", "app_root_path", "path_params", "endpoint")


def _endpoint(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        seen = {key: request.scope.get(key) for key in SEEN_KEYS}
        request.scope["seen"] = (name, seen)
        return PlainTextResponse(name)

    return endpoint


def _routes() -> list[BaseRoute]:
    """Fixed paths, parameters, a parameter route before a fixed one it shadows, methods, nested mounts, a mount that
    is not a plain router, and a route added by a later mount of the same prefix."""
    inner = [
        Route("/echo", _endpoint("echo"), methods=["POST"]),
        Route("/echo", _endpoint("echo-get"), methods=["GET"]),
        Route("/items/{item}", _endpoint("item")),
        Route("/{anything}/shadowed", _endpoint("shadowing")),
        Route("/x/shadowed", _endpoint("shadowed")),
        Mount("/deeper", routes=[Route("/leaf", _endpoint("leaf"), methods=["PUT", "GET"])]),
    ]
    return [
        Mount("/apps/one", routes=inner),
        Mount("/apps/{key}", routes=[Route("/echo", _endpoint("param-mount"), methods=["POST"])]),
        Mount("/apps/one", routes=[Route("/late", _endpoint("late"), methods=["GET"])]),
        Host("example.org", app=Router(routes=[Route("/hosted", _endpoint("hosted"))])),
        Route("/", _endpoint("front")),
        Route("/healthz", _endpoint("health")),
        Route("/healthz/", _endpoint("health-slash")),
    ]


def _routes_without_host() -> list[BaseRoute]:
    return [route for route in _routes() if not isinstance(route, Host)]


PATHS = [
    "/apps/one/echo",
    "/apps/one/items/7",
    "/apps/one/x/shadowed",
    "/apps/one/deeper/leaf",
    "/apps/one/late",
    "/apps/two/echo",
    "/hosted",
    "/",
    "/healthz",
    "/healthz/",
]


def _dispatch(router: Router, method: str, path: str, root_path: str) -> tuple[int, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    asyncio.run(router(scope, receive, send))
    return statuses[0], scope.get("seen")


path_texts = st.one_of(
    st.sampled_from(PATHS),
    st.builds(
        lambda path, tail: path + tail, st.sampled_from(PATHS), st.sampled_from(["/", "\n", "x", "/more", "%2F"])
    ),
    st.text(alphabet="/abcdehlopstxz0129\n.%", max_size=30).map(lambda text: "/" + text),
)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "get"]),
    path=path_texts,
    root_path=st.sampled_from(["", "", "", "/prefix"]),
    with_host=st.booleans(),
)
def test_every_request_reaches_the_route_starlettes_search_finds_with_the_same_scope(
    method: str, path: str, root_path: str, with_host: bool
) -> None:
    routes = _routes() if with_host else _routes_without_host()
    path = root_path + path if root_path else path
    expected = _dispatch(Router(routes=routes, redirect_slashes=False), method, path, root_path)
    indexed = IndexedRouter(routes=routes, redirect_slashes=False)
    assert _dispatch(indexed, method, path, root_path) == expected
    assert _dispatch(indexed, method, path, root_path) == expected  # the index built, then used


def test_a_route_mounted_after_the_first_request_is_served() -> None:
    router = IndexedRouter(routes=[Route("/a", _endpoint("a"))], redirect_slashes=False)
    assert _dispatch(router, "GET", "/a", "")[0] == 200
    assert _dispatch(router, "GET", "/b/c", "")[0] == 404
    router.mount("/b", Router(routes=[Route("/c", _endpoint("c"))]))
    status, (name, seen) = _dispatch(router, "GET", "/b/c", "")
    assert (status, name, seen["root_path"]) == (200, "c", "/b")


def test_the_hosts_routes_answer_through_the_index_as_before(runtime: Runtime) -> None:
    app = App(key="routed", name="Routed")

    @app.route("/things", auth=Auth.PUBLIC, methods=("POST",))
    async def things(context: RequestContext) -> dict[str, object]:
        return {"root_path": context.request.scope["root_path"], "params": context.request.path_params}

    client = TestClient(create_host(runtime, [app]))
    answered = client.post("/apps/routed/things")
    assert answered.json() == {"root_path": "/apps/routed", "params": {}}
    assert client.get("/apps/routed/things").json()["error"] == "method_not_allowed"
    assert client.post("/apps/routed/things/").json()["error"] == "not_found"
    metrics = client.get("/metrics").text
    assert 'route="/apps/routed/things",status="200"' in metrics
