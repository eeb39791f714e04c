"""Calls to Atlassian's APIs with the Forge app (system) or user token, through the one outbound client (S11, S13).

Forge hands the tokens over in ``x-forge-oauth-system`` and ``x-forge-oauth-user`` on each invocation. They are held
in memory only — never written to the database, a log line or an error message — and dropped at their ``exp``.
Requests go to the FIT's ``app.apiBaseUrl``; the egress allowlist must contain its origin (Atlassian's API host,
the setting ``PLEDGE_ATLASSIAN_API_URL``), so a forged apiBaseUrl could not send a token anywhere else. Paths are
templates, ``get_json("/rest/api/3/issue/{key}", key=issue_key)``, each value encoded as one segment, so an issue key
from the app's frontend cannot steer a token to another API (see :mod:`pledge.egress.paths`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import httpx
import jwt

from pledge.clock import Clock
from pledge.egress import OutboundClient, product_path, request_url
from pledge.errors import PledgeError

# Forge app tokens live up to 4 hours; an opaque token whose expiry cannot be read lives as long as its invocation.
MAX_TOKEN_LIFETIME = timedelta(hours=4)


class TokenUnavailable(PledgeError):
    """No live Forge token for this tenant: it expired, or the endpoint does not request one in manifest.yml."""


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and when it stops being usable. Its text never appears in ``repr``."""

    value: str = field(repr=False)
    expires_at: datetime

    @classmethod
    def from_header(cls, value: str, now: datetime, invocation_expires_at: datetime) -> Token:
        """Read the token's own ``exp`` when it is a JWT (unverified: it only bounds how long we keep it)."""
        exp = _unverified_exp(value)
        if exp is None:
            return cls(value, invocation_expires_at)
        return cls(value, min(datetime.fromtimestamp(exp, UTC), now + MAX_TOKEN_LIFETIME))

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


# Forge sends the same app token with every invocation until it nears expiry: decoding it (PyJWT, ~70 µs) once
# per token rather than once per call. The values stay in process memory only, as the TokenCache's do.
@lru_cache(maxsize=256)
def _unverified_exp(value: str) -> int | float | None:
    try:
        exp = jwt.decode(value, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return None
    return exp if isinstance(exp, int | float) else None


class TokenCache:
    """The latest app (system) token per tenant and its apiBaseUrl, in memory until it expires: for jobs."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[Token, str]] = {}
        self._lock = threading.Lock()

    def offer(self, tenant_id: str, token: Token, api_base_url: str) -> None:
        with self._lock:
            current = self._tokens.get(tenant_id)
            if current is None or token.expires_at >= current[0].expires_at:
                self._tokens[tenant_id] = (token, api_base_url)

    def get(self, tenant_id: str) -> tuple[Token, str]:
        now = self._clock.now()
        with self._lock:
            held = self._tokens.get(tenant_id)
            if held is not None and not held[0].live(now):
                del self._tokens[tenant_id]
                held = None
        if held is None:
            raise TokenUnavailable(f"no live Forge app token for tenant {tenant_id}: wait for Forge's next invocation")
        return held


class ForgeApiClient:
    """``await client.get_json("/rest/api/3/issue/{key}", key=k)``: ``Authorization: Bearer <token>`` to
    ``app.apiBaseUrl``."""

    def __init__(self, egress: OutboundClient, api_base_url: str, token: Token, clock: Clock) -> None:
        self._egress = egress
        self._base = api_base_url.rstrip("/")
        self._token = token
        self._clock = clock

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **segments: str | int,
    ) -> httpx.Response:
        """Send ``method`` to ``path`` (a template filled from ``segments``) under ``app.apiBaseUrl``."""
        url = str(request_url(self._base, product_path(path, segments), params))
        if not self._token.live(self._clock.now()):
            raise TokenUnavailable("the Forge token of this call has expired: Forge sends a new one with each call")
        sent = {**(headers or {}), "authorization": f"Bearer {self._token.value}"}
        sent.setdefault("accept", "application/json")
        return await self._egress.request(method, url, headers=sent, json=json, content=content)

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None, **segments: str | int) -> Any:
        response = await self.request("GET", path, params=params, json=None, content=None, headers=None, **segments)
        if response.status_code >= 400:
            raise ProductCallFailed(f"GET {path} answered {response.status_code}")
        return response.json()


class ProductCallFailed(PledgeError):
    """The product's API refused or failed a call."""
