"""The request head bound of ``pledge serve``, whatever way the bytes are cut into reads.

How the network splits the bytes must not change the verdict: a head within ``MAX_HEAD_BYTES`` is never refused, a
complete one past it always is, and one that never ends is refused at most one read past the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from pledge.request_head import MAX_HEAD_BYTES, MAX_HEADER_FIELDS, BoundedHttpToolsProtocol

READ = 256 * 1024  # the most one read delivers (uvloop)


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await Response("ok")(scope, receive, send)


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def _feed(data: bytes, cuts: list[int]) -> _Transport:
    config = Config(app=_ok, http=BoundedHttpToolsProtocol, log_config=None)
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = BoundedHttpToolsProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        transport = _Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        for piece in _pieces(data, cuts):
            if transport.closed:
                break
            protocol.data_received(piece)
        started = asyncio.all_tasks(loop)  # the app's tasks of the heads that were admitted
        for task in started:
            task.cancel()
        if started:
            loop.run_until_complete(_settle(started))
        return transport
    finally:
        loop.close()


async def _settle(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def _pieces(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        yield data[start:cut]
        start = cut
    yield data[start:]


def _request(header_bytes: int, fields: int = 1, *, then: bytes = b"") -> bytes:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    head += b"".join(b"X-F%d: v\r\n" % n for n in range(fields - 1))
    return head + b"X-Big: " + b"a" * header_bytes + b"\r\n\r\n" + then


def _refused(transport: _Transport) -> bool:
    return transport.written.startswith(b"HTTP/1.1 431 ") and transport.closed


cuts = st.lists(st.integers(min_value=0, max_value=2 * READ), max_size=12)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=MAX_HEAD_BYTES - 200), cut=cuts)
def test_a_head_within_the_limit_is_never_refused(size: int, cut: list[int]) -> None:
    # The keep-alive case too: a first request's body in the same read as the next head.
    first = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"b" * 100_000
    assert not _refused(_feed(first + _request(size), cut))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=MAX_HEAD_BYTES + 1, max_value=MAX_HEAD_BYTES + 3 * READ), cut=cuts)
def test_a_complete_head_past_the_limit_is_always_refused(size: int, cut: list[int]) -> None:
    assert _refused(_feed(_request(size), cut))


@settings(max_examples=30, deadline=None)
@given(cut=cuts)
def test_a_head_that_never_ends_is_refused_within_a_read_of_the_limit(cut: list[int]) -> None:
    endless = _request(MAX_HEAD_BYTES + 2 * READ)[: -len(b"\r\n\r\n")]
    reads = sorted({c for c in cut if c < len(endless)} | set(range(READ, len(endless), READ)))
    transport = _feed(endless, reads)
    assert _refused(transport)


@settings(max_examples=20, deadline=None)
@given(extra=st.integers(min_value=1, max_value=50), cut=cuts)
def test_too_many_header_fields_are_refused_however_they_arrive(extra: int, cut: list[int]) -> None:
    assert _refused(_feed(_request(1, MAX_HEADER_FIELDS + extra), cut))
    assert not _refused(_feed(_request(1, MAX_HEADER_FIELDS - 3), cut))
