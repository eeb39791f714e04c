"""The request head (request line and header fields) bounded under ``pledge serve``: 431 past the limits.

uvicorn parses with httptools (llhttp), which has no limit of its own, and httptools joins the pieces of one header
value in memory: a 100 MiB header was buffered whole, and 8 concurrent 48 MiB ones took the server from 99 to about
500 MiB. uvicorn's h11 parser has a limit but costs far more per request, so the fast parser stays and gets one.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pledge.serving import refusal

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

    A complete head is measured exactly (its URL and fields as parsed). A head still arriving is measured by the
    reads taken while it is incomplete: a read that also holds the end of the previous request is not counted (its
    share is unknown), so an endless head is refused at most one read (up to 256 KiB) past ``MAX_HEAD_BYTES``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads_begun = 0
        self._in_head = False
        self._reads_bytes = 0
        self._fields = 0
        self._fields_bytes = 0
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._heads_begun += 1
        self._in_head = True
        self._reads_bytes = self._fields = self._fields_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._fields_bytes += len(name) + len(value)
        if self._fields > MAX_HEADER_FIELDS or self._fields_bytes > MAX_HEAD_BYTES:
            self._refuse_in_parser()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if len(self.url) + self._fields_bytes > MAX_HEAD_BYTES:
            self._refuse_in_parser()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        heads_begun, in_head = self._heads_begun, self._in_head
        super().data_received(data)
        if not (self._in_head and in_head and heads_begun == self._heads_begun) or self.transport.is_closing():
            return
        self._reads_bytes += len(data)  # all of this read belongs to the head still being received
        if self._reads_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; the one `_refuse_in_parser` raised is a 431.
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse_in_parser(self) -> None:
        """Stop the parser before the request reaches the app; uvicorn then calls ``send_400_response``."""
        self._refused = True
        raise HeadTooLarge

    def _refuse(self) -> None:
        log.warning(
            "refused a request head over %d bytes or %d header fields: headers_too_large",
            MAX_HEAD_BYTES,
            MAX_HEADER_FIELDS,
        )
        self._in_head = False
        self.transport.write(_REFUSAL)
        self.transport.close()
