"""The request head (request line and header fields) bounded under ``pledge serve``: 431 past the limits.

uvicorn parses with httptools (llhttp), which has no limit of its own, and httptools joins the pieces of one header
value in memory: a 100 MiB header was buffered whole, and 8 concurrent 48 MiB ones took the server from 99 to about
500 MiB. uvicorn's h11 parser has a limit but costs far more per request, so the fast parser stays and gets one.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pledge.refusal import refusal

MAX_HEAD_BYTES: Final = 64 * 1024
"""Request line and headers together. A Connect page load carries its JWT and context in the query (a few KiB), a
Forge call a FIT and two OAuth tokens in headers (a few KiB more); Node and h11 stop at 16 KiB, nginx at 32 KiB."""

MAX_HEADER_FIELDS: Final = 100
"""Header fields in one request (Apache's default); Atlassian's requests carry about twenty."""

log = logging.getLogger("pledge.serve")


class HeadTooLarge(Exception):
    """Raised inside the parser to stop it: uvicorn then answers (see ``send_400_response``)."""


def _refusal_bytes() -> bytes:
    response = refusal(
        "headers_too_large",
        f"the request line and headers exceed {MAX_HEAD_BYTES} bytes or {MAX_HEADER_FIELDS} fields",
        status_code=431,
    )
    head = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return head + b"connection: close\r\n\r\n" + response.body


_REFUSAL: Final = _refusal_bytes()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 and closing once a request's head passes the limits.

    A head still arriving is measured by the reads taken while it is incomplete: a read that also holds the end of
    the previous request is not counted (its share is unknown), so an endless head is refused at most one read (up to
    256 KiB) past ``MAX_HEAD_BYTES``. A complete head is measured exactly, when the reads it came in could hold more
    than the limit. The common case, a head in one small read, costs two comparisons.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_bytes = 0  # the read being parsed
        self._head_scope: object = None  # the request whose incomplete head the two counts below measure
        self._head_bytes = 0  # bytes certainly of that head: the reads after the one it began in
        self._head_at_most = 0  # those and the whole read it began in
        self._refused = False

    def data_received(self, data: bytes) -> None:
        self._read_bytes = len(data)
        super().data_received(data)
        # uvicorn makes a new scope when a request begins and sets its "method" once the head is complete.
        scope = self.scope
        if scope is None or "method" in scope or self.transport.is_closing():
            return
        if self._head_scope is not scope:  # the head began in this read, after an unknown share of it
            self._head_scope, self._head_bytes, self._head_at_most = scope, 0, len(data)
            return
        self._head_bytes += len(data)
        self._head_at_most += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def on_headers_complete(self) -> None:
        at_most = self._read_bytes + (self._head_at_most if self._head_scope is self.scope else 0)
        if len(self.headers) > MAX_HEADER_FIELDS or (at_most > MAX_HEAD_BYTES and self._head_size() > MAX_HEAD_BYTES):
            # Stops the parser before the request reaches the app; uvicorn then calls `send_400_response`.
            self._refused = True
            raise HeadTooLarge
        super().on_headers_complete()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) for name, value in self.headers)

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; the one `on_headers_complete` raised is a 431.
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        log.warning(
            "refused a request head over %d bytes or %d header fields: headers_too_large",
            MAX_HEAD_BYTES,
            MAX_HEADER_FIELDS,
        )
        self._head_scope = None
        self.transport.write(_REFUSAL)
        self.transport.close()
