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

    The bytes of a head are counted after the parser has taken them, one read at a time: a read that also holds the
    end of the previous request is not counted (its share is unknown), so a head is refused at most one read (up to
    256 KiB) past ``MAX_HEAD_BYTES`` and never before it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads_begun = 0
        self._in_head = False
        self._head_bytes = 0
        self._head_fields = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._heads_begun += 1
        self._in_head = True
        self._head_bytes = 0
        self._head_fields = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > MAX_HEADER_FIELDS:
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        heads_begun, in_head = self._heads_begun, self._in_head
        super().data_received(data)
        if not (self._in_head and in_head and heads_begun == self._heads_begun) or self.transport.is_closing():
            return
        self._head_bytes += len(data)  # all of this read belongs to the head still being received
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400; the one raised by `on_header` above is a 431.
        if self._head_fields > MAX_HEADER_FIELDS:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        log.warning(
            "refused a request head over %d bytes or %d header fields: headers_too_large",
            MAX_HEAD_BYTES,
            MAX_HEADER_FIELDS,
        )
        self._in_head = False
        self.transport.write(_REFUSAL)
        self.transport.close()
