"""The tenant-bound client an app's handlers call the product's REST API with, every call signed (S11, S13).

Each request carries a fresh HS256 JWT (``iss`` = app key, ``iat``, ``exp`` three minutes later, ``qsh`` of this
very request relative to the product's context path, e.g. without ``/wiki``) and goes through the one outbound
client, which lets it reach only the tenant's own site. 429 and 5xx are retried with exponential backoff, waiting
what ``Retry-After`` asks; a request that is not idempotent is retried only on 429, which the product sends before
doing any work.

A path is a template whose ``{placeholders}`` are filled from keyword arguments, each value percent-encoded as one
segment: ``await jira.get_json("/rest/api/3/issue/{key}", key=issue_key)``; a literal path that could resolve
elsewhere (``..``, encoded separators) is refused with :class:`~pledge.egress.UnsafePath` (400). A query written
into the path is kept and merged with ``params`` (a name in both is refused), and the token's QSH is computed over
exactly the URL sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import jwt

from pledge.app import RequestContext
from pledge.clock import Clock
from pledge.egress import OutboundClient, product_path, request_url
from pledge.errors import PledgeError
from pledge.tenants import Tenant
from pledge.trust.qsh import query_string_hash

log = logging.getLogger("pledge.connect.product_client")

TOKEN_LIFETIME: Final = timedelta(minutes=3)
MAX_ATTEMPTS: Final = 4
BASE_BACKOFF_SECONDS: Final = 0.5
MAX_WAIT_SECONDS: Final = 60.0
"""A ``Retry-After`` longer than this is not waited for inside a request: the response is returned as it is."""

_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Sleep = Callable[[float], Awaitable[None]]


class ProductRequestFailed(PledgeError):
    """The product answered a REST call with an error status (after the retries it allows)."""

    def __init__(self, method: str, path: str, status: int) -> None:
        super().__init__(f"{method} {path} on the product answered {status}")
        self.status = status


class ProductClient:
    """Calls one tenant's product site as the app, e.g. ``await jira.get_json("/rest/api/3/myself")``."""

    def __init__(
        self,
        tenant: Tenant,
        shared_secret: str,
        egress: OutboundClient,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._tenant = tenant
        self._secret = shared_secret
        self._egress = egress
        self._clock = clock
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._base_url = tenant.base_url.rstrip("/")
        self._context_path = urlsplit(self._base_url).path

    def __repr__(self) -> str:
        return f"ProductClient(tenant={self._tenant.id!r})"

    def token(self, method: str, url: str) -> str:
        """The JWT for one request to ``url`` (absolute, on the tenant's site)."""
        now = int(self._clock.now().timestamp())
        claims = {
            "iss": self._tenant.app_key,
            "iat": now,
            "exp": now + int(TOKEN_LIFETIME.total_seconds()),
            "qsh": query_string_hash(method, url, context_path=self._context_path),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        **segments: str | int,
    ) -> httpx.Response:
        """Send a signed request to ``path`` (e.g. ``/rest/api/3/issue/{key}`` with ``key=…``) on the tenant's site."""
        method = method.upper()
        url = str(request_url(self._base_url, product_path(path, segments), params))
        attempt = 1
        while True:
            # Signed anew on each attempt: a retry after a long Retry-After must not carry a stale token.
            headers = {"Authorization": f"JWT {self.token(method, url)}", "Accept": "application/json"}
            response = await self._egress.request(method, url, headers=headers, json=json, also_allow=[self._base_url])
            wait = self._retry_wait(method, response, attempt)
            if wait is None:
                return response
            log.info("product answered %d; retry %d in %.1f s", response.status_code, attempt, wait)
            await self._sleep(wait)
            attempt += 1

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None, **segments: str | int) -> Any:
        response = await self.request("GET", path, params=params, **segments)
        if response.status_code >= 400:
            raise ProductRequestFailed("GET", path, response.status_code)
        return response.json()

    def _retry_wait(self, method: str, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        if attempt >= self._max_attempts or status not in _RETRYABLE:
            return None
        if status != 429 and method not in _IDEMPOTENT:
            return None
        backoff = BASE_BACKOFF_SECONDS * 2 ** (attempt - 1)
        asked = retry_after_seconds(response.headers.get("retry-after"), self._clock.now())
        wait = backoff if asked is None else max(asked, 0.0)
        return None if wait > MAX_WAIT_SECONDS else wait


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """How long a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or None when it says nothing."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - now).total_seconds()


async def product_client(context: RequestContext, *, sleep: Sleep = asyncio.sleep) -> ProductClient:
    """The client for the tenant of a verified Connect request."""
    tenant = context.tenant
    if tenant.client_key is None:
        raise PledgeError(f"tenant {tenant.id} is not installed through Connect: it has no shared secret")
    services = context._services
    connect = await services.connect_tenants.fetch(tenant.app_key, tenant.client_key)
    if connect is None:
        raise PledgeError(f"tenant {tenant.id} has no shared secret any more: it was uninstalled and purged")
    return ProductClient(connect.tenant, connect.shared_secret, services.egress, services.clock, sleep=sleep)
