"""S11 for Forge Remote: every call carries a Forge Invocation Token (FIT), verified here before a handler runs.

The FIT is RS256 only (pinned here, never read from the token), signed by a key published in Forge's JWKS. The
JWKS is cached; an unknown ``kid`` triggers a refresh, at most once per ``refresh_interval``, so a flood of made-up
kids cannot make Pledge hammer the JWKS host. JWKS unreachable and no cached key for the ``kid``: refuse (fail
closed). A cached key stays usable while the JWKS host is down (Forge rotates by publishing new keys beside old ones).

Claims follow Atlassian's Forge Remote contract: ``iss``, ``aud``, ``exp`` and ``app`` (``installationId``,
``apiBaseUrl``) are required; ``context`` (absent on calls from a backend function, ``requestRemote``), ``principal``
(UI calls only), ``nbf``, ``iat`` and ``jti`` are used when present. The token is read by :mod:`pledge.trust.jws`,
Connect's reader too: one base64url rule, times JSON integers, the same reason codes.

Staging: a FIT whose ``app.apiBaseUrl`` is on ``api.stg.atlassian.com`` is checked against the staging JWKS only, and
only when the deployment configured one; production FITs never against staging keys.

Replay: a FIT lives about 25 seconds; each ``jti`` (when present) is accepted once within its lifetime. Forge mints
a new FIT for every invocation, retries included, so a second sighting of a ``jti`` is a replay, not a retry. Each
process remembers the ``jti``s it accepted (a replay to the same process is refused without a round trip), and the
database remembers them for every instance (:mod:`pledge.trust.fit_uses`, calls arriving together recorded in one
transaction): a token captured on its way to one instance is refused by all the others too. A call whose ``jti``
cannot be recorded fails with the database's error (503): it is never accepted unrecorded. The process holds each
``jti`` until its token expires, the database until the latest expiry of the batch it was recorded with.

Every Forge call pays for this module, so it does the work once: the token is split once, a header already seen
(Forge signs every FIT with the same few headers) is not decoded again (the verifier owns that cache).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from pledge.clock import Clock
from pledge.egress import EgressRefused, OutboundClient
from pledge.errors import Refused
from pledge.trust.fit_uses import SharedTokenUses
from pledge.trust.jws import RS256, b64url_decode, check_algorithm, check_times, header_cache, read_unverified
from pledge.trust.jws import verify_signature as verify_jws_signature

log = logging.getLogger("pledge.trust.forge_fit")

FIT_ISSUER = "forge/invocation-token"
ALGORITHM = RS256
LEEWAY = timedelta(seconds=5)
# Forge sets exp about 25 s after iat; a token claiming to live much longer was not minted by Forge's rules.
MAX_LIFETIME = timedelta(minutes=5)
_REQUIRED = ("iss", "aud", "exp", "app")
STAGING_API_PREFIX = "https://api.stg.atlassian.com/"
_MIN_RSA_BITS = 2048
_MAX_MODULUS_CHARS = 16384 // 6 + 1  # base64url of a 16384-bit modulus
_MAX_JWKS_KEYS = 100
_KID = re.compile(r"[A-Za-z0-9._:/+=-]{1,200}")
_APP_ID = re.compile(r"ari:cloud:ecosystem::app/[A-Za-z0-9-]{1,64}")
_MAX_LIFETIME_SECONDS = int(MAX_LIFETIME.total_seconds())


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a verified FIT says: who is calling, for which installation and site, and where to call back."""

    app_id: str
    installation_id: str
    api_base_url: str
    cloud_id: str | None
    site_url: str | None
    principal: str | None
    module_type: str | None
    module_key: str | None
    license_active: bool | None
    """``app.license.active`` (or the deprecated ``isActive``) when the FIT carries a license (paid apps); else None."""
    jti: str | None
    expires_at: datetime
    claims: dict[str, Any]

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Invocation:
        app, context = claims.get("app"), claims.get("context", {})
        if not isinstance(app, dict) or not isinstance(context, dict):
            raise Refused("claims_invalid", "the FIT's app or context claim is not an object")
        installation_id, api_base_url = app.get("installationId"), app.get("apiBaseUrl")
        if not isinstance(installation_id, str) or not isinstance(api_base_url, str):
            raise Refused("claims_invalid", "the FIT lacks app.installationId or app.apiBaseUrl")
        module = app["module"] if isinstance(app.get("module"), dict) else {}
        jti = claims.get("jti")
        if jti is not None and not _text(jti):
            # A present jti that is no string would silently lose the replay check: refused instead.
            raise Refused("claims_invalid", "the FIT's jti is not a string")
        return cls(
            app_id=str(claims["aud"]),
            installation_id=installation_id,
            api_base_url=api_base_url.rstrip("/"),
            cloud_id=_text(context.get("cloudId")),
            site_url=_text(context.get("siteUrl")),
            principal=_text(claims.get("principal")),
            module_type=_text(module.get("type")),
            module_key=_text(module.get("key")),
            license_active=_license_active(app.get("license")),
            jti=jti,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            claims=claims,
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _license_active(license_: object) -> bool | None:
    """``active`` is the field Atlassian documents; ``isActive`` is its deprecated name, read when ``active`` is not."""
    if not isinstance(license_, dict):
        return None
    for name in ("active", "isActive"):
        value = license_.get(name)
        if isinstance(value, bool):
            return value
    return None


def _is_staging(claims: dict[str, Any]) -> bool:
    """Whether the (not yet verified) FIT is for an installation in Atlassian's staging environment."""
    app = claims.get("app")
    api_base_url = app.get("apiBaseUrl") if isinstance(app, dict) else None
    return isinstance(api_base_url, str) and api_base_url.startswith(STAGING_API_PREFIX)


class JwksCache:
    """Forge's signing keys by ``kid``, fetched through the egress client, refreshed at most once per interval."""

    def __init__(
        self,
        url: str,
        egress: OutboundClient,
        clock: Clock,
        *,
        refresh_interval: timedelta = timedelta(seconds=30),
        max_age: timedelta = timedelta(hours=1),
    ) -> None:
        self._url = url
        self._egress = egress
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: datetime | None = None
        self._attempted_at: datetime | None = None
        self._reachable = True
        self._skipped = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> RSAPublicKey:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:
            if self._refresh_due():
                await self._refresh()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if not self._reachable:
            raise Refused(
                "jwks_unavailable", "the Forge JWKS cannot be fetched and no cached key matches: refusing (fail closed)"
            )
        raise Refused("unknown_kid", "the FIT is signed with a key the Forge JWKS does not publish")

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock.now() - self._fetched_at >= self._max_age

    def _refresh_due(self) -> bool:
        return self._attempted_at is None or self._clock.now() - self._attempted_at >= self._refresh_interval

    async def _refresh(self) -> None:
        self._attempted_at = self._clock.now()
        try:
            response = await self._egress.request("GET", self._url, headers={"accept": "application/json"})
            response.raise_for_status()
            # orjson: any body, however nested, is a JSONDecodeError (a ValueError), never a RecursionError.
            keys, skipped = _parse_jwks(orjson.loads(response.content))
        except (httpx.HTTPError, ValueError, EgressRefused) as exc:
            self._reachable = False
            log.warning("Forge JWKS fetch failed (%s); keeping %d cached key(s)", type(exc).__name__, len(self._keys))
            return
        if skipped and skipped != self._skipped:
            log.warning("Forge JWKS: skipped %d unusable key(s); using the other %d", skipped, len(keys))
        self._skipped = skipped
        self._keys, self._fetched_at, self._reachable = keys, self._attempted_at, True


def _parse_jwks(document: object) -> tuple[dict[str, RSAPublicKey], int]:
    """The usable RS256 signing keys by kid, and how many entries were skipped as unusable.

    One malformed key must not take the others down: Forge publishes new keys beside old ones, and a key this parser
    cannot read is skipped, never an error for every FIT.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, RSAPublicKey] = {}
    skipped = 0
    for entry in document["keys"][:_MAX_JWKS_KEYS]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue  # another kind of key: not for FITs, not an error
        kid = entry.get("kid")
        key = _rsa_public_key(entry)
        if key is None or entry.get("alg", ALGORITHM) != ALGORITHM or not isinstance(kid, str):
            skipped += 1
            continue
        keys[kid] = key
    return keys, skipped


def _rsa_public_key(entry: dict[str, Any]) -> RSAPublicKey | None:
    """The public key of an RSA JWK (``n``, ``e``), or None when they do not make a usable one."""
    n, e = entry.get("n"), entry.get("e")
    if not isinstance(n, str) or not isinstance(e, str) or len(n) > _MAX_MODULUS_CHARS or len(e) > 16:
        return None
    try:
        modulus, exponent = (int.from_bytes(b64url_decode(part), "big") for part in (n, e))
        key = RSAPublicNumbers(exponent, modulus).public_key()
    except (Refused, ValueError):
        return None
    return key if key.key_size >= _MIN_RSA_BITS else None


class FitVerifier:
    """Verifies ``Authorization: Bearer <FIT>`` for one app (its ``aud``) and returns the :class:`Invocation`."""

    def __init__(
        self,
        app_id: str,
        jwks: JwksCache,
        clock: Clock,
        *,
        leeway: timedelta = LEEWAY,
        staging_jwks: JwksCache | None = None,
        shared_uses: SharedTokenUses | None = None,
    ) -> None:
        """``shared_uses``: the instances' common memory of used ``jti``s; without it, this process's only."""
        if not _APP_ID.fullmatch(app_id):
            raise ValueError(f"Forge app id {app_id!r} must look like ari:cloud:ecosystem::app/<uuid>")
        self.app_id = app_id
        self._jwks = jwks
        self._staging_jwks = staging_jwks
        self._shared_uses = shared_uses
        self._clock = clock
        self._leeway = int(leeway.total_seconds())
        # jti -> until when it is remembered (epoch seconds), oldest sighting first, so expired ones leave in order.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._headers = header_cache()

    async def verify(self, authorization: str | None) -> Invocation:
        token = read_unverified(_bearer(authorization), self._headers)
        check_algorithm(token, ALGORITHM)
        kid = token.header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise Refused("kid_invalid", "the FIT header has no usable kid")
        claims = token.claims  # read before the signature only to pick the JWKS
        key = await self._jwks_for(claims).key(kid)
        verify_jws_signature(token, key, ALGORITHM)
        self._check_claims(claims)
        now = self._clock.timestamp()
        expires = check_times(claims, now, leeway=self._leeway, max_lifetime=_MAX_LIFETIME_SECONDS)
        invocation = Invocation.from_claims(claims)
        if invocation.jti is not None:
            until = expires + self._leeway
            self._remember(invocation.jti, until, now)
            shared = self._shared_uses
            if shared is not None:
                try:
                    recorded = await shared.use_once(self.app_id, invocation.jti, until)
                except BaseException:
                    # Not recorded, so not used: a resend gets this call's answer again, not a replay of nothing.
                    self._seen.pop(invocation.jti, None)
                    raise
                if not recorded:
                    raise _replayed()
        return invocation

    def _jwks_for(self, claims: dict[str, Any]) -> JwksCache:
        if not _is_staging(claims):
            return self._jwks
        if self._staging_jwks is None:
            raise Refused(
                "staging_not_accepted", "the FIT is for an Atlassian staging installation: this deployment takes none"
            )
        return self._staging_jwks

    def _check_claims(self, claims: dict[str, Any]) -> None:
        for name in _REQUIRED:
            if name not in claims:
                raise Refused("claims_invalid", f"the FIT lacks the {name!r} claim")
        if claims["iss"] != FIT_ISSUER:
            raise Refused("issuer_mismatch", f"the FIT's iss is not {FIT_ISSUER!r}")
        audience = claims["aud"]
        if audience != self.app_id and not (isinstance(audience, list) and audience == [self.app_id]):
            raise Refused("audience_mismatch", "the FIT was issued for another app")
        claims["aud"] = self.app_id

    def _remember(self, jti: str, until: float, now: float) -> None:
        seen = self._seen
        # Forge's tokens all live about as long, so the oldest sighting expires first: forgetting from that end
        # costs nothing per call (an expired one behind a longer-lived one waits for it, which is harmless).
        while seen:
            oldest, oldest_until = next(iter(seen.items()))
            if oldest_until >= now:
                break
            del seen[oldest]
        known = seen.get(jti)
        if known is not None:
            if known >= now:
                raise _replayed()
            del seen[jti]  # remembered past its expiry, now seen again: remembered anew, in arrival order
        seen[jti] = until


def _replayed() -> Refused:
    return Refused("token_replayed", "this FIT was already used: Forge mints one per invocation")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("token_missing", "no 'Authorization: Bearer <FIT>' header")
    return token.strip()
