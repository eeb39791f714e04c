"""The host's own cost per request, in this process: uvicorn's HTTP protocol driven without sockets.

    python -m bench host_cost [--requests 32000] [--rounds 3]

``bench serve`` measures the shipped server over the loopback, where one run's figures move by ±5 µs a request
with the machine. This drives the same code without the network or a load generator: 32 connections of uvicorn's
httptools protocol on a transport that drops what it is given, each sent one request at a time as bytes, the event
loop run until every answer is complete, and the process's CPU time divided by the requests. Two sides, taking
turns, each as its server runs it:

- plain Starlette + uvicorn: the baseline's bare route behind uvicorn's default proxy-headers middleware, on
  uvicorn's own protocol;
- the Pledge host: the baseline app as ``pledge serve`` builds it (the request head bounded, the JSON access log
  written to a file at INFO, start-up objects frozen out of the collector).

What it leaves out is what both servers share (the kernel, the socket reads and writes), so its ratio reads a little
lower than ``bench serve``'s. Use it to see what a change to the host costs; use ``bench serve`` for the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from unittest.mock import patch

import uvloop
from starlette.applications import Starlette
from starlette.types import ASGIApp
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench.baseline import APP_PATH, BODY, PATH, bare, create_app
from bench.harness import BenchError
from pledge.logs import configure_logging
from pledge.request_head import BoundedHttpToolsProtocol

CONNECTIONS = 32


class _Sink(asyncio.Transport):
    """A connection's transport that takes every write and keeps nothing."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def _request(path: str) -> bytes:
    body = BODY.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def cpu_per_request(app: ASGIApp, protocol: type[HttpToolsProtocol], request: bytes, requests: int) -> float:
    """Microseconds of this process's CPU per request: ``requests`` sent over :data:`CONNECTIONS` connections."""
    config = Config(app, http=protocol, log_config=None, access_log=False, server_header=False, lifespan="off")
    config.load()
    state = ServerState()
    connections = []
    for _ in range(CONNECTIONS):
        connection = protocol(config=config, server_state=state, app_state={})
        connection.connection_made(_Sink())
        connections.append(connection)
    turns = max(requests // CONNECTIONS, 1)
    started = time.process_time()
    for _ in range(turns):
        for connection in connections:
            connection.data_received(request)
        while state.tasks:
            await asyncio.sleep(0)
    return (time.process_time() - started) / (turns * CONNECTIONS) * 1e6


@contextmanager
def _host() -> Iterator[Starlette]:
    """The host, its data and access log in a scratch directory; the process's environment and logging are put back
    afterwards (``python -m bench`` runs other modules in this process, and the log file closes here)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with (
        tempfile.TemporaryDirectory(prefix="pledge-bench-") as scratch,
        patch.dict(os.environ, {"PLEDGE_DATA_DIR": str(Path(scratch) / "data")}),
        (Path(scratch) / "access.log").open("w") as log,
    ):
        configure_logging("INFO", stream=log)
        try:
            yield create_app()
        finally:
            root.handlers[:], root.level = handlers, level


async def _measure(host: Starlette, requests: int, rounds: int) -> None:
    behind_proxy_headers: Any = ProxyHeadersMiddleware(cast(Any, bare))  # uvicorn's ASGI types, not Starlette's
    sides: dict[str, tuple[ASGIApp, type[HttpToolsProtocol], bytes]] = {
        "plain Starlette + uvicorn": (behind_proxy_headers, HttpToolsProtocol, _request(PATH)),
        "Pledge host (as pledge serve)": (host, BoundedHttpToolsProtocol, _request(APP_PATH)),
    }
    figures: dict[str, list[float]] = {name: [] for name in sides}
    async with host.router.lifespan_context(host):
        for _ in range(rounds):
            for name, (app, protocol, request) in sides.items():
                await cpu_per_request(app, protocol, request, requests // 10)  # warm up
                figures[name].append(await cpu_per_request(app, protocol, request, requests))
    medians = {name: sorted(runs)[len(runs) // 2] for name, runs in figures.items()}
    plain, pledge = medians.values()
    for name, value in medians.items():
        print(f"{name:<32} {value:6.1f} µs CPU a request (median of {rounds})")
    print(f"Pledge host / plain, by CPU: {plain / pledge:.2f} (bench serve's target: ≥ 0.9 over the loopback)")


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench host_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32_000, help="requests a side a round")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(list(argv))
    if options.requests < CONNECTIONS or options.rounds < 1:
        raise BenchError(f"--requests must be at least {CONNECTIONS} and --rounds at least 1")
    with _host() as host:  # built as `pledge serve` builds it, start-up objects frozen (bench.harness.pledge_host)
        uvloop.run(_measure(host, options.requests, options.rounds))
