"""Prometheus metrics for health and Cloud Fortified reliability signals, and the access log; both name a request by
its route template, never by its concrete path, so neither a tenant nor a value a caller put in a path leaks."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Scope

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Upper bounds (seconds) of the latency histogram's buckets: Prometheus's defaults."""


class Metrics:
    """Requests by route, method and status, and latency by route, exposed at ``/metrics``.

    Counted in plain dicts, read by a collector when scraped: every request passes here, and a ``prometheus_client``
    counter and histogram take a lock and five calls per update where a dict update takes none. Updates happen on
    the event loop's thread only (the host's middleware), so they need no lock either.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Bounded: route templates are declared, and the HTTP parser admits a fixed set of methods.
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, list[float]] = {}
        """Per route: a count per bucket (the last one past every bound), then the sum of the seconds."""
        self.registry.register(_RequestCollector(self._requests, self._latency))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency (an :data:`pledge.edge.Observer`)."""
        key = (route, method, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[-1] += seconds

    def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class _RequestCollector(Collector):
    def __init__(self, requests: dict[tuple[str, str, int], int], latency: dict[str, list[float]]) -> None:
        self._requests = requests
        self._latency = latency

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "pledge_http_requests", "HTTP requests served", labels=["route", "method", "status"]
        )
        for (route, method, status), count in list(self._requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("pledge_http_request_seconds", "HTTP request latency", labels=["route"])
        for route, counts in list(self._latency.items()):
            cumulative = list(accumulate(counts[:-1]))
            bounds = [str(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
            latency.add_metric([route], list(zip(bounds, cumulative, strict=True)), counts[-1])
        yield latency


CLIENT_LEFT = 499
"""The status counted and logged for a request whose client left before it was answered (nginx's convention): no
answer was sent."""


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
