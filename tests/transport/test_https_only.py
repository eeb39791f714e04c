"""The HTTPS-only policy at the host's edge: any peer, any `X-Forwarded-Proto`, any `Host`, any path and query.

What a user relies on: a request reaches the app only over TLS or from a trusted proxy that says exactly `https`;
anything else is a 308 to the configured public URL (page loads) or 403 `https_required`, never a 500; the redirect
never carries the query (a page load's `jwt`) nor anything the `Host` header said; every answer has the security
headers, HSTS only over HTTPS; cookies are made Secure, HttpOnly and SameSite.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from pledge.edge import Edge
from pledge.refusal import refused
from pledge.transport import https as https_module
from pledge.transport.https import LOOPBACK_PLAIN_PATHS, HttpsOnly, networks

PUBLIC = "https://pledge.example.com"
TRUSTED = networks(["10.0.0.0/8", "fd00::/8"])


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"set-cookie", b"session=abc; Path=/"), (b"set-cookie", b"pref=1; Secure; SameSite=Strict")],
        }
    )
    await send({"type": "http.response.body", "body": b"answered"})


def _edge(*, hsts_max_age: int) -> Edge:
    https = HttpsOnly(public_url=PUBLIC, allow_plain=False, trusted_proxies=TRUSTED, hsts_max_age=hsts_max_age)
    return Edge(app, https=https, refused=refused)


def call(scope: Scope) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    middleware = _edge(hsts_max_age=63_072_000)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    start = sent[0]
    headers: dict[bytes, list[bytes]] = {}
    for name, value in start["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], headers, body


def scope(
    *,
    scheme: str = "http",
    client: str = "203.0.113.9",
    headers: list[tuple[bytes, bytes]] | None = None,
    method: str = "GET",
    path: str = "/apps/x/page",
    query: bytes = b"",
) -> Scope:
    return {
        "type": "http",
        "scheme": scheme,
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers or [],
        "client": (client, 50000),
    }


def test_https_answers_with_hsts_and_secure_cookies() -> None:
    status, headers, body = call(scope(scheme="https"))
    assert (status, body) == (200, b"answered")
    assert headers[b"strict-transport-security"] == [b"max-age=63072000; includeSubDomains"]
    assert headers[b"x-content-type-options"] == [b"nosniff"]
    assert headers[b"referrer-policy"] == [b"no-referrer"]
    assert headers[b"content-security-policy"] == [b"frame-ancestors 'none'"]
    assert headers[b"set-cookie"] == [
        b"session=abc; Path=/; Secure; HttpOnly; SameSite=Lax",
        b"pref=1; Secure; SameSite=Strict; HttpOnly",
    ]


def test_a_page_load_over_plain_http_is_redirected_without_its_query() -> None:
    status, headers, _ = call(
        scope(headers=[(b"accept", b"text/html"), (b"host", b"evil.example")], query=b"jwt=eyJ.x.y&xdm_e=z")
    )
    assert status == 308
    assert headers[b"location"] == [b"https://pledge.example.com/apps/x/page"]
    assert b"strict-transport-security" not in headers  # HSTS over HTTPS only (RFC 6797)


def test_an_api_call_over_plain_http_is_refused_403() -> None:
    status, headers, body = call(scope(method="POST", headers=[(b"x-forwarded-proto", b"https")]))
    assert status == 403 and json.loads(body)["error"] == "https_required"
    assert headers[b"x-content-type-options"] == [b"nosniff"]


def test_health_answers_plain_http_on_loopback_only() -> None:
    assert call(scope(path="/healthz", client="127.0.0.1"))[0] == 200
    assert call(scope(path="/healthz", client="203.0.113.9"))[0] == 403


forwarded = st.lists(
    st.sampled_from([b"https", b"HTTPS", b" https ", b"http", b"https, http", b"http, https", b"", b"wss", b"https\t"])
    | st.binary(max_size=20),
    max_size=3,
)
peers = st.sampled_from(["10.1.2.3", "fd00::1", "203.0.113.9", "::1", "127.0.0.1", "192.168.0.1", "not-an-ip"])
hosts = st.lists(st.binary(max_size=40), max_size=2)
paths = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40).map(lambda p: "/" + p)


@settings(max_examples=300, deadline=None)
@given(
    forwarded=forwarded,
    peer=peers,
    host=hosts,
    path=paths,
    query=st.binary(max_size=40),
    html=st.booleans(),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT"]),
)
def test_only_tls_or_a_trusted_proxys_exact_https_reaches_the_app(
    forwarded: list[bytes], peer: str, host: list[bytes], path: str, query: bytes, html: bool, method: str
) -> None:
    headers = [(b"x-forwarded-proto", value) for value in forwarded] + [(b"host", value) for value in host]
    if html:
        headers.append((b"accept", b"text/html,application/xhtml+xml"))
    status, answered, body = call(scope(client=peer, headers=headers, path=path, query=query, method=method))
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        address = None
    trusted = address is not None and any(address in network for network in TRUSTED)
    believed = trusted and len(forwarded) == 1 and forwarded[0].strip().lower() == b"https"
    if not believed and address is not None and address.is_loopback and path in LOOPBACK_PLAIN_PATHS:
        assert (status, body) == (200, b"answered")  # a health check on the host
        return
    if believed:
        assert (status, body) == (200, b"answered")
        assert answered[b"strict-transport-security"] == [b"max-age=63072000; includeSubDomains"]
        return
    assert body != b"answered"
    if html and method in ("GET", "HEAD"):
        assert status == 308
        (location,) = answered[b"location"]
        # Always the public URL's host, never the query or what the Host header said; plain ASCII.
        parts = urlsplit(location.decode("ascii"))
        assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("https", "pledge.example.com", "", "")
        assert all(0x21 <= byte < 0x7F for byte in location)
        assert unquote_to_bytes(parts.path) == unquote_to_bytes(path.encode("utf-8"))
    else:
        assert status == 403 and json.loads(body)["error"] == "https_required"
    assert b"strict-transport-security" not in answered


def test_a_plain_websocket_is_closed_before_its_handshake() -> None:
    middleware = _edge(hsts_max_age=1)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(middleware({**scope(), "type": "websocket", "scheme": "ws"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


@settings(max_examples=100, deadline=None)
@given(
    requests=st.lists(st.tuples(peers, forwarded), min_size=1, max_size=12), remembered=st.sampled_from([1, 2, 1024])
)
def test_one_policy_judges_each_peer_by_its_own_address_whatever_came_before(
    requests: list[tuple[str, list[bytes]]], remembered: int
) -> None:
    """The policy remembers which peers are trusted proxies: a peer's answer never follows another's, and a full
    memory starts again rather than grow."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(https_module, "TRUSTED_PEERS_REMEMBERED", remembered)
        policy = HttpsOnly(public_url=PUBLIC, allow_plain=False, trusted_proxies=TRUSTED, hsts_max_age=1)
    for peer, said in requests:
        request = scope(client=peer, headers=[(b"x-forwarded-proto", value) for value in said], path="/apps/x")
        try:
            trusted = any(ipaddress.ip_address(peer) in network for network in TRUSTED)
        except ValueError:
            trusted = False
        believed = trusted and len(said) == 1 and said[0].strip().lower() == b"https"
        assert (policy.headers_for(request) is not None) == believed
        assert len(policy._trusted_peers) <= remembered
