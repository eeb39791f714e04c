"""The host's edge: the one ASGI layer around every route, applying what every request meets.

In order: HTTPS only (:class:`~pledge.transport.https.HttpsOnly`: plain HTTP refused, the security headers on every
answer), the body bound (:class:`~pledge.body_limit.BodyLimits`: read to its end, bounded, before an answer starts),
the request counted and its access line written by route template (:mod:`pledge.metrics`), and a fault of the server
answered 500 if no answer has started, then raised for the server to log (Starlette's ``ServerErrorMiddleware``'s job,
done here since the edge already knows whether an answer started). One layer with one ``send`` wrapper rather than a
middleware each: every layer costs a call and a wrapper per message, on every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge.body_limit import BodyLimits, BoundedBody
from pledge.errors import Refused
from pledge.metrics import CLIENT_LEFT, route_template
from pledge.refusal import refusal
from pledge.transport.https import HttpsOnly, secured_headers

log = logging.getLogger("pledge.host")

Observer = Callable[[str, str, int, float], None]
"""Told of each answered request: method, route template, status, seconds (the metrics and the access line)."""


def internal_error() -> ASGIApp:
    """The answer to a fault of this server: JSON like every other answer; the traceback is logged, never sent."""
    return refusal("internal_error", "the server failed to answer this request", status_code=500)


def _unobserved(_method: str, _template: str, _status: int, _seconds: float) -> None:
    pass


class Edge:
    """Applies ``https``, ``bodies`` and ``observe`` to every request ``app`` serves; ``refused`` answers a refusal
    (the host's encoder), ``fault`` a fault of the server (an exception ``app`` let through)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: HttpsOnly,
        refused: Callable[[Scope, Refused], ASGIApp],
        fault: Callable[[], ASGIApp] | None = None,
        bodies: BodyLimits | None = None,
        observe: Observer = _unobserved,
    ) -> None:
        self.app = app
        self.https = https
        self.refused = refused
        self.fault = fault or internal_error
        self.bodies = bodies or BodyLimits()
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        defaults = self.https.headers_for(scope)
        if defaults is None:
            await self.https.refuse(scope)(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 0  # no answer started
        bounded = self.bodies.bound(scope, receive)
        body = bounded if isinstance(bounded, BoundedBody) else None

        async def answer(message: Message) -> None:
            nonlocal status
            if body is not None and body.left:
                return  # a handler's answer to a client that has gone: nobody is there
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = secured_headers(message.get("headers", ()), defaults)
                if body is not None and body.answer_starts():
                    await body.drain()
            await send(message)

        try:
            if isinstance(bounded, Refused):
                # Refused unread: the connection closes rather than take in what was refused.
                await self.refused(scope, bounded)(scope, receive, answer)
            else:
                await self.app(scope, receive if body is None else body.receive, answer)
        except ClientDisconnect:
            # The client left while its request waited (for a tenant's first load, say) and its body was read too
            # late: nobody is there to answer, and it is no error of the server's.
            status = CLIENT_LEFT
        except Exception:
            if body is not None and body.overflowed and body.answering:
                # The refusal raised for a body past the limit raced an answer that had already started (a file
                # answer reads while it sends): the answer is cut short and the connection closes; nothing to report.
                log.info("cut an answer short: the request body passed %d bytes after it started", body.limit)
                return
            if not status:
                await self.fault()(scope, receive, answer)
            raise  # the server logs the traceback; the client got a 500 without one
        finally:
            self.observe(
                scope["method"], route_template(scope, root_path), status or 500, time.perf_counter() - started
            )
