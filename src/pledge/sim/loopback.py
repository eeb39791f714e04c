"""Serve an ASGI app on 127.0.0.1 in a background thread, on a port the OS picks: for the simulator and tests.

Nothing here listens beyond loopback (S12); the URL is known before the first request because the socket is bound
first and handed to uvicorn.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT_SECONDS = 10.0


@contextmanager
def serve_on_loopback(app: ASGIApp) -> Iterator[str]:
    """``with serve_on_loopback(app) as url:`` — ``url`` is ``http://127.0.0.1:<port>`` until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT_SECONDS)
        sock.close()
