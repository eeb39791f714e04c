"""Every request body of the host bounded, and read to its end (bounded) before an answer starts.

Applied by the host's edge around every route, so no route, verifier or handler can read an unbounded body: a
declared ``Content-Length`` over the limit is refused before anything runs, a chunked body as soon as the bytes
received pass the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import anyio
from starlette.types import Message, Receive, Scope

from pledge.bodies import MAX_BODY_BYTES, too_large
from pledge.errors import Refused

DRAIN_SECONDS: Final = 5.0
"""How long an answer waits for the rest of a body nobody read. Closing a socket with unread bytes makes the kernel
send a reset, which can reach the client before the answer does: a refusal must be read, not reset."""


class BodyLimits:
    """Every request body bounded to ``limit`` bytes, but for the few paths in ``larger`` (a realm migration's tenant
    bundle). The host's edge (:mod:`pledge.edge`) applies it."""

    def __init__(self, limit: int = MAX_BODY_BYTES, larger: Mapping[str, int] | None = None) -> None:
        self.limit = limit
        self.larger = dict(larger or {})

    def bound(self, scope: Scope, receive: Receive) -> BoundedBody | Refused | None:
        """The request's body, bounded (its ``receive`` is what the app reads); None when there is no body; the
        refusal when its declared length is already past the limit (answered unread: the connection then closes)."""
        declared, chunked = _framing(scope)
        if declared is None and not chunked:
            return None
        limit = self.larger.get(scope["path"], self.limit) if self.larger else self.limit
        if declared is not None and declared > limit:
            return too_large(limit)
        return BoundedBody(receive, limit)


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


class BoundedBody:
    """A request body read through :meth:`receive`: past its limit the read raises the 413 refusal (or, once the answer
    has started, tells the reader the client left). :meth:`drain` reads what is left before an answer (the
    edge asks :meth:`answer_starts` whether it must).
    ``left``: the client left before its body was read, so whatever answers it reaches nobody."""

    __slots__ = ("_receive", "_received", "answering", "complete", "left", "limit", "overflowed")

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self._received = 0
        self.answering = False
        self.overflowed = False
        self.complete = False
        self.left = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self._received > self.limit:
                self.overflowed = True
                if self.answering:
                    # Too late for a refusal: what still reads (a file answer listening for the client leaving)
                    # is told the client left, and the rest is not read.
                    return {"type": "http.disconnect"}
                raise too_large(self.limit)
        else:  # http.disconnect
            self.complete = self.left = True
        return message

    def answer_starts(self) -> bool:
        """Marks the answer as started; whether the rest of the body must still be read first (:meth:`drain`)."""
        self.answering = True
        return not self.complete

    async def drain(self) -> None:
        # Past the limit the connection closes with the rest unread: a refusal is read, an endless body is not.
        with anyio.move_on_after(DRAIN_SECONDS):
            while not self.complete and self._received <= self.limit:
                await self.receive()
