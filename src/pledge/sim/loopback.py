"""Serve an ASGI app on 127.0.0.1 in a background thread, on a port the OS picks: for the simulator and tests.

Nothing here listens beyond loopback (S12); the socket is bound first, so the app is built knowing its own URL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_on_loopback(make_app: Callable[[str], ASGIApp]) -> Iterator[str]:
    """``with serve_on_loopback(lambda url: app) as url:`` serves ``http://127.0.0.1:<port>`` until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(make_app(url), log_config=None, lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT_SECONDS)
        sock.close()
