"""HTTPS only, per request: plain HTTP is refused outside development mode, and every answer carries the security
headers a browser needs (HSTS over HTTPS, no sniffing, no referrer, no framing unless a page says by whom).

A request is HTTPS when uvicorn terminated TLS itself, or when it comes from a configured trusted proxy that says
``X-Forwarded-Proto: https``; the header from any other peer is ignored, since any client can send it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import quote

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pledge.cache import BoundedCache
from pledge.errors import Refused
from pledge.refusal import refused

MINIMUM_HSTS_SECONDS: Final = 31_536_000
"""A year: Atlassian's requirement for cloud apps, and what `pledge doctor` checks."""
LOOPBACK_PLAIN_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered over plain HTTP to a loopback peer: a container's or a process manager's health check on the same host.
They carry no tenant data; from any other peer they are refused like every other path."""
DEFAULT_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    # A page load's URL carries its JWT: a link followed from the page must not send it to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(addresses: Iterable[str]) -> tuple[Network, ...]:
    """The settings' addresses and CIDR networks, parsed (the settings checked them already)."""
    return tuple(ipaddress.ip_network(address, strict=False) for address in addresses)


def frame_ancestors(origin: str) -> str:
    """The Content-Security-Policy of a page the product frames: only the tenant's own site may frame it."""
    return f"frame-ancestors {origin}"


class HttpsOnly:
    """The HTTPS policy of every request: plain HTTP is refused (page loads 308 to the public https URL, other
    requests 403 ``https_required``) unless ``allow_plain`` (development mode, loopback only), and every answer gets
    the security headers. The host's edge (:mod:`pledge.edge`) applies it."""

    def __init__(
        self,
        *,
        public_url: str,
        allow_plain: bool,
        trusted_proxies: Sequence[Network],
        hsts_max_age: int,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.allow_plain = allow_plain
        self.trusted_proxies = tuple(trusted_proxies)
        # Whether each peer address is a trusted proxy: parsing an address and testing it against the networks cost
        # about 3 µs, on every request of a deployment behind a proxy. Bounded: peers are few, an attacker's many.
        self._trusted_peers: BoundedCache[str, bool] = BoundedCache(TRUSTED_PEERS_REMEMBERED)
        hsts = [(b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode())]
        self._secure_headers = (*DEFAULT_HEADERS, *(hsts if hsts_max_age > 0 else []))

    def headers_for(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...] | None:
        """The security headers the answer to this request gets (HSTS over HTTPS only), or None when the request is
        refused (:meth:`refuse` answers it). HTTPS means TLS here, or a trusted proxy's word for it."""
        if scope.get("scheme") in ("https", "wss") or self._forwarded_https(scope):
            return self._secure_headers
        if self.allow_plain or _loopback_operational(scope):
            return DEFAULT_HEADERS
        return None

    def _forwarded_https(self, scope: Scope) -> bool:
        """Whether a trusted proxy says the request reached it over HTTPS (one ``X-Forwarded-Proto: https``)."""
        client = scope.get("client")
        if not client or not self.trusted_proxies:
            return False
        trusted = self._trusted_peers.get(client[0])
        if trusted is None:
            trusted = self._trusted_peers.put(client[0], _within(client[0], self.trusted_proxies))
        if not trusted:
            return False
        said = [value for name, value in scope["headers"] if name == b"x-forwarded-proto"]
        # Exactly one header, exactly "https": a list ("http, https") means a hop before the proxy spoke plain HTTP.
        return len(said) == 1 and said[0].strip().lower() == b"https"

    def refuse(self, scope: Scope) -> ASGIApp:
        """The answer to a request :meth:`headers_for` refused: a closed WebSocket before its handshake (a 403), a
        redirect for a page load, else ``https_required``."""
        if scope["type"] == "websocket":
            return _close_websocket
        path = scope.get("raw_path") or scope["path"].encode()
        if scope["method"] in ("GET", "HEAD") and _accepts_html(scope):
            # The query is dropped, not repeated: a page load's holds its JWT (already sent in the clear once).
            location = self.public_url + quote(path, safe=_PATH_SAFE)
            return Response(status_code=308, headers={"Location": location, **_HEADERS})
        # Logged like every refusal ("refused POST unmatched: https_required: …": no route was matched yet).
        response = refused(
            scope,
            Refused("https_required", f"this server answers over HTTPS only: use {self.public_url}", status_code=403),
        )
        response.headers.update(_HEADERS)
        return response


async def _close_websocket(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "websocket.close", "code": 1008})


TRUSTED_PEERS_REMEMBERED: Final = 1024
"""Peer addresses whose trust is remembered; past that the memory starts again (a recomputation each)."""

_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"
"""RFC 3986 path characters (``%`` too: the path arrives encoded): anything else is escaped, so the Location is
ASCII and cannot end the path early with a ``?`` or ``#``."""
_HEADERS: Final = {name.decode(): value.decode() for name, value in DEFAULT_HEADERS}


def _within(address: str, networks: Sequence[Network]) -> bool:
    """Whether the peer ``address`` is in one of ``networks``; a Unix socket's peer (no address) is in none."""
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in network for network in networks)


def secured_headers(
    headers: Iterable[tuple[bytes, bytes]], defaults: Sequence[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security ``defaults`` it lacks, and every cookie made Secure, HttpOnly and
    SameSite (Lax unless the app chose)."""
    result = list(headers)
    for name, _ in result:
        if name.lower() in _SECURED_NAMES:
            break
    else:  # the common answer: nothing to merge
        result += defaults
        return result
    result = [(name, _secure_cookie(value) if name.lower() == b"set-cookie" else value) for name, value in result]
    present = {name.lower() for name, _ in result}
    result += [(name, value) for name, value in defaults if name not in present]
    return result


_SECURED_NAMES: Final = frozenset({b"set-cookie", b"strict-transport-security", *(name for name, _ in DEFAULT_HEADERS)})


def _secure_cookie(value: bytes) -> bytes:
    attributes = {part.split(b"=", 1)[0].strip().lower() for part in value.split(b";")[1:]}
    for attribute, added in ((b"secure", b"Secure"), (b"httponly", b"HttpOnly"), (b"samesite", b"SameSite=Lax")):
        if attribute not in attributes:
            value += b"; " + added
    return value


def _accepts_html(scope: Scope) -> bool:
    return any(name == b"accept" and b"text/html" in value.lower() for name, value in scope["headers"])


def _loopback_operational(scope: Scope) -> bool:
    client = scope.get("client")
    if scope["path"] not in LOOPBACK_PLAIN_PATHS or not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False
