"""The one outbound HTTP client. It refuses any host that is not allowed, before a byte is sent.

Allowed are the hosts the deployment names in its settings (Atlassian's API, key servers) plus, per call, the
tenant's own product host. Later the sub-processor registry adds its declared hosts here. A URL whose path could
resolve elsewhere than it reads (``..``, encoded separators; see :mod:`pledge.egress.paths`) is refused too: httpx
would resolve ``/issue/X/../../myself`` to ``/myself`` before sending it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from pledge.egress.paths import UnsafePath, unsafe_reason
from pledge.egress.refusal_counts import RefusalCounts
from pledge.errors import PledgeError

log = logging.getLogger("pledge.egress")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class EgressRefused(PledgeError):
    """An outbound request to a destination that is not allowed (S13)."""


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased: the unit the allowlist speaks in."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused(f"refused outbound request: {parts.scheme or 'no'} scheme is not http(s)")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _path_reason(url: str) -> str | None:
    if "#" in url or any(ord(character) < 0x20 or character == "\x7f" for character in url):
        return "contains a '#' or a control character"  # urlsplit would drop both unseen
    parts = urlsplit(url)
    # As written, not decoded: a segment the product clients encoded on purpose (%2F inside a value) is fine here.
    return unsafe_reason((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), decode=False)


class OutboundClient:
    """An ``httpx.AsyncClient`` behind an allowlist of origins."""

    def __init__(
        self,
        allowed: Iterable[str] = (),
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sources: Mapping[str, str] | None = None,
        counts: RefusalCounts | None = None,
    ) -> None:
        """``sources``: URL prefix -> the setting that names it, for the log line of a failed request there.
        ``counts``: where refusals are counted for every instance (``refusals`` counts this client's)."""
        self._allowed = frozenset(origin(url) for url in allowed)
        self._sources = dict(sources or {})
        self._client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, transport=transport, follow_redirects=False)
        self._counts = counts
        self.refusals = 0

    @property
    def allowed(self) -> frozenset[str]:
        """The origins allowed on every call (a call may add the tenant's own site)."""
        return self._allowed

    def allows(self, url: str, *, also: Iterable[str] = ()) -> bool:
        target = origin(url)
        return target in self._allowed or target in {origin(extra) for extra in also}

    def check_destination(self, url: str, *, also: Iterable[str] = ()) -> None:
        """:class:`EgressRefused` (counted and logged) unless ``url``'s origin is allowed. Clients that do not send
        through this one (boto3, for a backup bucket) call it, from their own thread, for each request they send."""
        refusal = self._destination_refusal(url, also)
        if refusal is not None:
            self.record_refusal("destination")
            raise refusal

    def _destination_refusal(self, url: str, also: Iterable[str]) -> EgressRefused | None:
        if self.allows(url, also=tuple(also)):
            return None
        target = origin(url)
        log.warning("egress refused: %s", target)
        return EgressRefused(f"refused outbound request to {target}: not an allowed destination")

    async def request(self, method: str, url: str, *, also_allow: Iterable[str] = (), **kwargs: Any) -> httpx.Response:
        """Send a request if ``url``'s origin is allowed (``also_allow``: e.g. the tenant's own site)."""
        refusal = self._destination_refusal(url, also_allow)
        if refusal is not None:
            await self._count("destination")
            raise refusal
        reason = _path_reason(url)
        if reason is not None:
            log.warning("egress refused: a path to %s %s", origin(url), reason)
            await self._count("path")
            raise UnsafePath(f"refused outbound request to {origin(url)}: its path {reason}")
        setting = self._setting_for(url)
        if setting is None:
            return await self._client.request(method, url, **kwargs)
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("%s unreachable (%s): check the setting %s", origin(url), type(exc).__name__, setting)
            raise
        if response.status_code >= 400:
            log.warning("%s answered %d: check the setting %s", origin(url), response.status_code, setting)
        return response

    async def _count(self, reason: str) -> None:
        await asyncio.to_thread(self.record_refusal, reason)

    def record_refusal(self, reason: str) -> None:
        """Count a refusal (``destination``, ``path``, ``socket``) for every instance; logged by the caller."""
        self.refusals += 1
        if self._counts is None:
            return
        try:
            self._counts.add(reason)
        except Exception:
            # The refusal stands whatever happens to its count; the log line above is its record meanwhile.
            log.exception("egress refusal not counted in the database")

    def recorded_refusals(self) -> int:
        """Refusals counted by every instance of the deployment (this client's alone without a database)."""
        return self.refusals if self._counts is None else self._counts.total()

    def _setting_for(self, url: str) -> str | None:
        for prefix, setting in self._sources.items():
            if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                return setting
        return None

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    async def aclose(self) -> None:
        await self._client.aclose()
