"""Atlassian's signed-install public keys, fetched by ``kid`` and cached (S11).

A ``kid`` comes from a token nobody has verified yet, so it is checked against a strict pattern before it becomes
part of a URL (no ``/``, ``.``, ``%``, ``?`` or ``#`` can steer the fetch elsewhere). A key published under a kid
never changes (Atlassian rotates by publishing a new kid), so a fetched key stays cached and keeps working while
the key server is down; an unknown kid with the server down is refused (fail closed).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Final

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pledge.egress import EgressRefused, OutboundClient
from pledge.trust.jwt_policy import TokenRefused

log = logging.getLogger("pledge.trust.install_keys")

KID_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_KEY_BYTES: Final = 16 * 1024
MIN_RSA_BITS: Final = 2048


class InstallKeys:
    """RSA public keys of the install-keys server at ``base_url``, by kid, through the one outbound client."""

    def __init__(self, base_url: str, egress: OutboundClient, *, max_entries: int = 64) -> None:
        self._base_url = base_url.rstrip("/")
        self._egress = egress
        self._max_entries = max_entries
        self._keys: OrderedDict[str, RSAPublicKey] = OrderedDict()

    async def public_key(self, kid: object) -> RSAPublicKey:
        """The key for ``kid``; refuses (``kid_invalid``, ``install_key_unavailable``) rather than guessing."""
        if not isinstance(kid, str) or not KID_PATTERN.match(kid):
            raise TokenRefused("kid_invalid", "the token's 'kid' header is missing or not a plain key id")
        cached = self._keys.get(kid)
        if cached is not None:
            self._keys.move_to_end(kid)
            return cached
        key = await self._fetch(kid)
        self._keys[kid] = key
        while len(self._keys) > self._max_entries:
            self._keys.popitem(last=False)
        return key

    async def _fetch(self, kid: str) -> RSAPublicKey:
        url = f"{self._base_url}/{kid}"
        try:
            response = await self._egress.request("GET", url)
        except (httpx.HTTPError, EgressRefused) as exc:
            log.warning("install key server unreachable: %s", type(exc).__name__)
            raise TokenRefused(
                "install_key_unavailable", "the install-keys server could not be reached; the install is refused"
            ) from None
        if response.status_code != 200 or len(response.content) > MAX_KEY_BYTES:
            log.warning("install key server answered %d for a key id", response.status_code)
            raise TokenRefused(
                "install_key_unavailable",
                f"the install-keys server has no usable key for this kid ({response.status_code})",
            )
        try:
            key = load_pem_public_key(response.content)
        except (ValueError, TypeError):
            raise TokenRefused("install_key_unavailable", "the install-keys server sent a malformed key") from None
        if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            raise TokenRefused("install_key_unavailable", "the install-keys server sent a key that is not RSA-2048+")
        return key
