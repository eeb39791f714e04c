"""Prometheus metrics for health and Cloud Fortified reliability signals, and the access log; both name a request by
its route template, never by its concrete path, so neither a tenant nor a value a caller put in a path leaks."""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pledge_http_requests", "HTTP requests served", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "pledge_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        # Bounded: route templates are declared, and the HTTP parser admits a fixed set of methods.
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its latency. Labelled children are kept: ``labels()`` costs more than the update."""
        key = (route, method, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(route, method, str(status))
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        counter.inc()
        histogram.observe(seconds)

    def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


access_log = logging.getLogger("pledge.access")


class MetricsMiddleware:
    """Counts requests by route template (``/apps/<key>/items/{item_id}``), never by concrete path, so no id leaks
    into labels, and writes the access line by the same template (method, template, status, milliseconds).

    The access line is written here rather than by uvicorn: uvicorn knows only the raw path, which can carry issue
    keys, accountIds or e-mail addresses, and its line holds the client address and query string.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        root_path = scope.get("root_path", "")

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            seconds = time.perf_counter() - started
            template = route_template(scope, root_path)
            self.metrics.observe(template, scope["method"], status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("%s %s %d %.1fms", scope["method"], template, status, seconds * 1000)


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that handled the request, read from the scope Starlette's routers filled in.

    Routers share one scope down through mounts: ``route`` ends as the innermost route that matched and
    ``root_path`` has grown by each mount's path, so mount prefix + route path is the full template. ``root_path``
    is the host's own (empty unless Pledge is itself mounted); a request no route matched is ``unmatched``.
    """
    route = scope.get("route")
    if route is None:
        return "unmatched"
    prefix = str(scope.get("root_path", ""))[len(root_path) :]
    return prefix if isinstance(route, Mount) else prefix + str(route.path)
