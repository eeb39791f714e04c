"""uvloop's event loop, with the egress guard on the connections the loop opens itself.

The socket guard (:mod:`pledge.egress.socket_guard`) judges connections by the interpreter's audit events. uvloop
resolves names and connects in libuv, beneath those events: an app's ``httpx.AsyncClient`` or
``asyncio.open_connection`` would pass unjudged. This loop judges each destination at the loop's own entry points
(``create_connection``, ``create_datagram_endpoint``, ``getaddrinfo``) before libuv is asked, by the same policy and
with the same refusal; what still goes through Python's socket module (``sock_connect``, threads, blocking clients)
meets the audit hook as before. ``pledge serve`` runs on it because uvloop costs less per request than asyncio's own
loop (bench/README.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from pledge.egress.socket_guard import active_guard


def _judge(host: object, port: object) -> None:
    guard = active_guard()
    if guard is not None and host is not None:
        guard.judge(host, port)


class GuardedLoop(uvloop.Loop):
    """An event loop for ``pledge serve``: uvloop's, judging every destination it is asked to reach."""

    async def create_connection(self, protocol_factory: Any, host: Any = None, port: Any = None, **kwargs: Any) -> Any:
        _judge(host, port)
        return await super().create_connection(protocol_factory, host, port, **kwargs)

    async def create_datagram_endpoint(
        self, protocol_factory: Any, local_addr: Any = None, remote_addr: Any = None, **kwargs: Any
    ) -> Any:
        if remote_addr is not None and not isinstance(remote_addr, str | bytes):  # a Unix socket's path is local
            _judge(*remote_addr[:2])
        return await super().create_datagram_endpoint(protocol_factory, local_addr, remote_addr, **kwargs)

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> Any:
        _judge(host, port)
        return await super().getaddrinfo(host, port, **kwargs)


def new_guarded_loop() -> asyncio.AbstractEventLoop:
    """A new :class:`GuardedLoop` (uvicorn's ``loop`` setting takes a factory's import path)."""
    return GuardedLoop()
