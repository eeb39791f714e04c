"""Every request body of the host bounded, and read to its end (bounded) before an answer starts.

One ASGI middleware around every mount, so no route, verifier or handler can read an unbounded body: a declared
``Content-Length`` over the limit is refused before anything runs, a chunked body as soon as the bytes received pass
the limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge.bodies import MAX_BODY_BYTES, too_large
from pledge.errors import Refused

log = logging.getLogger("pledge.host")

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
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            # The refusal raised for a body past the limit raced an answer that had already started (a file answer
            # reads while it sends): the answer is cut short and the connection closes; there is nothing to report.
            if not (body.overflowed and body.answering):
                raise
            log.info("cut an answer short: the request body passed %d bytes after it started", limit)


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
    __slots__ = ("_limit", "_receive", "_received", "_send", "answering", "complete", "overflowed")

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._received = 0
        self.answering = False
        self.overflowed = False
        self.complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self._received > self._limit:
                self.overflowed = True
                if self.answering:
                    # Too late for a refusal: what still reads (a file answer listening for the client leaving)
                    # is told the client left, and the rest is not read.
                    return {"type": "http.disconnect"}
                raise too_large(self._limit)
        else:  # http.disconnect
            self.complete = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.answering = True
            if not self.complete:
                await self._drain()
        await self._send(message)

    async def _drain(self) -> None:
        # Past the limit the connection closes with the rest unread: a refusal is read, an endless body is not.
        with anyio.move_on_after(DRAIN_SECONDS):
            while not self.complete and self._received <= self._limit:
                await self.receive()
