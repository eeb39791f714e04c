"""Atlassian's signed-install public keys, fetched by ``kid`` and cached (S11).

A ``kid`` comes from a token nobody has verified yet, so it is checked against a strict pattern (``fullmatch``: a
trailing newline is not a kid) before it becomes part of a URL (no ``/``, ``.``, ``%``, ``?`` or ``#`` can steer the
fetch elsewhere). A key published under a kid never changes (Atlassian rotates by publishing a new kid), so a
fetched key stays cached and keeps working while the key server is down; an unknown kid with the server down is
refused (fail closed).

Anyone can send a well-formed kid, so fetches are bounded: a kid the server had no key for (a 4xx, or a body that
is no RSA key) is remembered for :data:`MISS_TTL_SECONDS`, and all fetches share a token bucket
(:data:`FETCH_BURST`, then one per :data:`FETCH_INTERVAL_SECONDS`, on the injected clock). A kid that would need a
fetch beyond that is refused (``install_key_rate_limited``) rather than queued: Atlassian publishes a new kid a few
times a year, so a legitimate install rarely meets the limit.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pledge.clock import Clock
from pledge.egress import OutboundClient
from pledge.errors import Refused

log = logging.getLogger("pledge.trust.install_keys")

KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_KEY_BYTES: Final = 16 * 1024
MIN_RSA_BITS: Final = 2048
MISS_TTL_SECONDS: Final = 60.0
"""How long a kid the key server had no usable key for is refused without asking again."""
FETCH_BURST: Final = 5
FETCH_INTERVAL_SECONDS: Final = 10.0
"""After a burst of :data:`FETCH_BURST` fetches, one more per this many seconds."""
_MAX_MISSES: Final = 1024


class FetchBucket:
    """A token bucket on the injected clock: ``take`` is True while a fetch is allowed."""

    def __init__(self, clock: Clock, *, burst: int, interval_seconds: float) -> None:
        self._clock = clock
        self._burst = float(burst)
        self._interval = interval_seconds
        self._tokens = float(burst)
        self._at = clock.timestamp()

    def take(self) -> bool:
        now = self._clock.timestamp()
        # max(): a clock moved backwards must not drain the bucket for good.
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) / self._interval)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class InstallKeys:
    """RSA public keys of the install-keys server at ``base_url``, by kid, through the one outbound client."""

    def __init__(
        self,
        base_url: str,
        egress: OutboundClient,
        clock: Clock,
        *,
        max_entries: int = 64,
        burst: int = FETCH_BURST,
        fetch_interval_seconds: float = FETCH_INTERVAL_SECONDS,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._egress = egress
        self._clock = clock
        self._max_entries = max_entries
        self._keys: OrderedDict[str, RSAPublicKey] = OrderedDict()
        # kid -> until when (epoch seconds) it is refused without a fetch.
        self._misses: OrderedDict[str, float] = OrderedDict()
        self._bucket = FetchBucket(clock, burst=burst, interval_seconds=fetch_interval_seconds)
        self.fetches = 0
        """Requests sent to the key server (the bound above is tested on it)."""

    async def public_key(self, kid: object) -> RSAPublicKey:
        """The key for ``kid``; refuses (``kid_invalid``, ``install_key_unavailable``,
        ``install_key_rate_limited``) rather than guessing."""
        if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
            raise Refused("kid_invalid", "the token's 'kid' header is missing or not a plain key id")
        cached = self._keys.get(kid)
        if cached is not None:
            self._keys.move_to_end(kid)
            return cached
        if self._missed_recently(kid):
            raise Refused("install_key_unavailable", "the install-keys server has no usable key for this kid")
        if not self._bucket.take():
            log.warning("install key fetch refused: the fetch rate limit is reached")
            raise Refused(
                "install_key_rate_limited", "too many unknown install key ids just now; the install is refused"
            )
        key = await self._fetch(kid)
        self._keys[kid] = key
        while len(self._keys) > self._max_entries:
            self._keys.popitem(last=False)
        return key

    def _missed_recently(self, kid: str) -> bool:
        until = self._misses.get(kid)
        if until is None:
            return False
        if self._clock.timestamp() < until:
            return True
        del self._misses[kid]
        return False

    def _remember_miss(self, kid: str) -> None:
        self._misses[kid] = self._clock.timestamp() + MISS_TTL_SECONDS
        self._misses.move_to_end(kid)
        while len(self._misses) > _MAX_MISSES:
            self._misses.popitem(last=False)

    async def _fetch(self, kid: str) -> RSAPublicKey:
        self.fetches += 1
        try:
            response = await self._egress.request("GET", f"{self._base_url}/{kid}")
        except Exception as exc:  # whatever failed (InvalidURL included), the install is refused, never a 500
            log.warning("install key server unreachable: %s", type(exc).__name__)
            raise Refused(
                "install_key_unavailable", "the install-keys server could not be reached; the install is refused"
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_KEY_BYTES:
            log.warning("install key server answered %d for a key id", response.status_code)
            if 400 <= response.status_code < 500:  # the server's own "no such key"; a 5xx may pass in a moment
                self._remember_miss(kid)
            raise Refused(
                "install_key_unavailable",
                f"the install-keys server has no usable key for this kid ({response.status_code})",
            )
        try:
            key = load_pem_public_key(response.content)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            self._remember_miss(kid)
            raise Refused("install_key_unavailable", "the install-keys server sent no RSA-2048+ public key")
        return key
