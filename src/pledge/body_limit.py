"""Every request body of the host bounded, and read to its end (bounded) before an answer starts.

One ASGI middleware around every mount, so no route, verifier or handler can read an unbounded body: a declared
``Content-Length`` over the limit is refused before anything runs, a chunked body as soon as the bytes received pass
the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge.bodies import MAX_BODY_BYTES, BodyRefused, too_large
from pledge.errors import Refused

DRAIN_SECONDS: Final = 5.0
"""How long an answer waits for the rest of a body nobody read. Closing a socket with unread bytes makes the kernel
send a reset, which can reach the client before the answer does: a refusal must be read, not reset."""


class BodyLimitMiddleware:
    """Bounds every request body to ``limit`` bytes and reads what is left of it (bounded) before an answer starts."""

    def __init__(
        self,
        app: ASGIApp,
        refused: Callable[[Scope, Refused], ASGIApp],
        limit: int = MAX_BODY_BYTES,
        larger: Mapping[str, int] | None = None,
    ) -> None:
        """``refused`` answers a refusal (the host's encoder); ``larger``: the few paths that take more than ``limit``
        (a realm migration's tenant bundle)."""
        self.app = app
        self.refused = refused
        self.limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body: nothing to bound or drain
            return
        limit = self.larger.get(scope["path"], self.limit) if self.larger else self.limit
        if declared is not None and declared > limit:
            # Refused unread: the connection closes rather than take in what was refused.
            await self.refused(scope, too_large(limit))(scope, receive, send)
            return
        body = _BoundedBody(receive, send, limit)
        await self.app(scope, body.receive, body.send)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (-1 when malformed: the server refuses those) and whether it is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = True
    return (None if declared == 0 else declared), chunked


class _BoundedBody:
    __slots__ = ("_limit", "_receive", "_received", "_send", "complete")

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._received = 0
        self.complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise too_large(self._limit)
            self.complete = not message.get("more_body", False)
        else:  # http.disconnect
            self.complete = True
        return message

    async def send(self, message: Message) -> None:
        if not self.complete and message["type"] == "http.response.start":
            await self._drain()
        await self._send(message)

    async def _drain(self) -> None:
        with anyio.move_on_after(DRAIN_SECONDS):
            try:
                while not self.complete:
                    await self.receive()
            except BodyRefused:
                pass  # past the limit: the connection closes with the rest unread
