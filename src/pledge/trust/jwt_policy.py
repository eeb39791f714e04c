"""The checks every Connect JWT goes through, one function per check, each refusing with a stable reason code (S11).

The order is the one PROTOCOLS.md prescribes: read the token without trusting it, find the key by its issuer,
verify the signature with the algorithm the endpoint's policy pins (never the one the header names), then the
times, then the query string hash. ``pledge token inspect`` runs the same functions to explain a refusal.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pledge.errors import PledgeError
from pledge.trust.qsh import CONTEXT_QSH

MAX_TOKEN_LENGTH: Final = 8 * 1024
"""Longer than any token Atlassian sends (a context JWT is about 1 KiB); anything longer is refused unparsed."""

MAX_LEEWAY_SECONDS: Final = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

MAX_LIFETIME_SECONDS: Final = 60 * 60
"""The longest ``exp - iat`` accepted. Atlassian's longest-lived Connect token is the context JWT (15 minutes);
webhooks, page loads and lifecycle calls carry 1 to 3 minutes. An hour leaves room for a change of those defaults
while a token minted to outlive a leak (a year, say) is refused: a captured token is worth at most an hour."""

HS256: Final = "HS256"
RS256: Final = "RS256"
_AUTHORIZATION_SCHEME: Final = "jwt "
_URL_TO_STANDARD: Final = bytes.maketrans(b"-_+/", b"+/-_")
_PADDING: Final = (b"", b"===", b"==", b"=")
# Exact types: a JSON decoder makes only these, and ``bool``, a subclass of int, is not a time.
_NUMBERS: Final = frozenset({int, float})
_START_CLAIMS: Final = ("nbf", "iat")


class TokenRefused(PledgeError):
    """A token that must not be accepted; ``code`` is the stable reason code a 401 body names."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class UnverifiedToken:
    """A token's header and claims as read, before anything about them is trusted.

    Not frozen: a frozen dataclass costs 0.4 µs more to build, once per request, and nothing here is shared.
    """

    raw: str
    header: Mapping[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def issuer(self) -> str:
        issuer = self.claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise TokenRefused("claims_invalid", "the token has no 'iss' claim: it must name the sender")
        return issuer


_BLOCK: Final = 64
_INNER_PAD: Final = bytes.maketrans(bytes(range(256)), bytes(x ^ 0x36 for x in range(256)))
_OUTER_PAD: Final = bytes.maketrans(bytes(range(256)), bytes(x ^ 0x5C for x in range(256)))


class SharedSecret:
    """An HS256 key with the HMAC key schedule (RFC 2104's padded inner and outer SHA-256 states) computed once.

    Measured on the Connect webhook route: ``hmac.digest`` costs 5-9 µs a call on OpenSSL 3 (it fetches the
    algorithm and builds a MAC context every time) and copying a keyed ``hmac.HMAC`` takes five Python calls;
    copying the two hashlib states is the same HMAC in one call (about 1 µs). ``sign`` equals ``hmac.digest``
    for every key and message (tested).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def sign(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def __repr__(self) -> str:
        return "SharedSecret(...)"


def token_from(authorization: str | None, query_token: str | None) -> str:
    """The token of a request: ``Authorization: JWT <token>`` or, for iframe page loads, the ``jwt`` parameter."""
    if authorization is not None:
        if authorization[: len(_AUTHORIZATION_SCHEME)].lower() != _AUTHORIZATION_SCHEME:
            raise TokenRefused("token_missing", "the Authorization header must use the JWT scheme")
        token = authorization[len(_AUTHORIZATION_SCHEME) :].strip()
    elif query_token is not None:
        token = query_token
    else:
        raise TokenRefused("token_missing", "no JWT in the Authorization header or the jwt query parameter")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("token_too_large", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if not token:
        raise TokenRefused("token_missing", "the JWT is empty")
    return token


def read_unverified(token: str) -> UnverifiedToken:
    """Split a compact JWS and decode header and claims without trusting them; refuse anything malformed.

    Parsed here once, strictly (base64url alphabet only, JSON objects, no NaN or Infinity), so that the claims a
    verified signature vouches for are exactly the bytes that were signed. The token is encoded and translated to
    the standard base64 alphabet once, as a whole: every Connect request pays for this function.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("token_too_large", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise TokenRefused("token_malformed", "the token is not base64url-encoded") from None
    parts = raw.translate(_URL_TO_STANDARD).split(b".")
    if len(parts) != 3:
        raise TokenRefused("token_malformed", "the token is not a JWT: it must have three dot-separated parts")
    header, claims, signature = parts
    return UnverifiedToken(
        token, _header(header), _json_object(claims), raw[: len(header) + 1 + len(claims)], _base64(signature)
    )


def check_algorithm(token: UnverifiedToken, pinned: str) -> None:
    """The endpoint's policy names the one algorithm it accepts; a header naming another is refused."""
    algorithm = token.header.get("alg")
    if algorithm != pinned:
        shown = algorithm if isinstance(algorithm, str) and len(algorithm) <= 16 else "?"
        raise TokenRefused("algorithm_not_allowed", f"this endpoint accepts {pinned} tokens only, not {shown!r}")


def verify_signature(
    token: UnverifiedToken, key: SharedSecret | str | bytes | RSAPublicKey, pinned: str
) -> dict[str, Any]:
    """Verify the signature with ``key`` and the pinned algorithm; return the now trusted claims.

    HS256 is an HMAC computed here (constant-time comparison): the key is always the tenant's shared secret
    from the vault, never something the request chose, and a general JWT library's per-call key sniffing and
    re-parsing cost more than the rest of request authentication together.
    """
    check_algorithm(token, pinned)
    if pinned == HS256 and isinstance(key, (SharedSecret, str, bytes)):
        secret = key if isinstance(key, SharedSecret) else SharedSecret(key)
        valid = hmac.compare_digest(secret.sign(token.signing_input), token.signature)
    elif pinned == RS256 and isinstance(key, RSAPublicKey):
        try:
            key.verify(token.signature, token.signing_input, padding.PKCS1v15(), hashes.SHA256())
            valid = True
        except InvalidSignature:
            valid = False
    else:
        raise ValueError(f"no {pinned} verification with a {type(key).__name__} key")
    if not valid:
        raise TokenRefused("signature_invalid", "the token's signature does not verify with the expected key")
    return token.claims


def check_times(claims: Mapping[str, Any], instant: float, *, leeway: int = MAX_LEEWAY_SECONDS) -> None:
    """``exp`` is required and must not have passed; ``nbf`` and ``iat`` must not be in the future; the token must
    not claim to live longer than :data:`MAX_LIFETIME_SECONDS` from its ``iat`` (else ``nbf``, else now).

    ``instant`` is the current time in epoch seconds (``Clock.timestamp()``), as the claims are.
    """
    if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
    # Any: the exact-type tests make them numbers.
    expires: Any = claims.get("exp")
    if type(expires) not in _NUMBERS:
        raise TokenRefused("claims_invalid", "the token has no numeric 'exp' claim")
    if instant > expires + leeway:
        raise TokenRefused("token_expired", f"the token expired {int(instant - expires)} s ago")
    issued: Any = instant
    for name in _START_CLAIMS:  # iat, when present, is the start that counts
        start: Any = claims.get(name)
        if type(start) in _NUMBERS:
            if start > instant + leeway:
                raise TokenRefused(
                    "token_not_yet_valid", f"the token's '{name}' is {int(start - instant)} s in the future"
                )
            issued = start
    if expires - issued > MAX_LIFETIME_SECONDS:
        raise TokenRefused(
            "token_lifetime_too_long", f"the token claims to live longer than {MAX_LIFETIME_SECONDS} s from its 'iat'"
        )


def check_qsh(claims: Mapping[str, Any], expected: str, *, accept_context: bool) -> None:
    """The ``qsh`` claim must be this request's hash; ``context-qsh`` only where the route accepts context JWTs."""
    qsh = claims.get("qsh")
    if not isinstance(qsh, str):
        raise TokenRefused("claims_invalid", "the token has no 'qsh' claim binding it to a request")
    if qsh == CONTEXT_QSH:
        if not accept_context:
            raise TokenRefused(
                "context_token_not_allowed",
                "a context JWT (qsh=context-qsh) is accepted only on routes the app's own frontend calls",
            )
        return
    if qsh != expected:
        raise TokenRefused("qsh_mismatch", "the token's qsh does not match this request's method, path and query")


def _base64(segment: bytes) -> bytes:
    """Decode one segment, already in the standard alphabet (see :func:`read_unverified`)."""
    # Strict mode refuses characters outside the alphabet, which the lenient decoder would silently skip.
    try:
        return binascii.a2b_base64(segment + _PADDING[len(segment) % 4], strict_mode=True)
    except binascii.Error:
        raise TokenRefused("token_malformed", "the token is not base64url-encoded") from None


# A product signs every token with the same header, so its decoding is kept; bounded, as headers are untrusted.
_HEADERS: dict[bytes, Mapping[str, Any]] = {}
_MAX_HEADERS: Final = 32


def _header(segment: bytes) -> Mapping[str, Any]:
    header = _HEADERS.get(segment)
    if header is None:
        header = MappingProxyType(_json_object(segment))
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[segment] = header
    return header


def _json_object(segment: bytes) -> dict[str, Any]:
    # orjson: strict RFC 8259 (no NaN or Infinity, valid UTF-8), and a quarter of the json module's cost here.
    try:
        value = orjson.loads(_base64(segment))
    except orjson.JSONDecodeError:
        raise TokenRefused("token_malformed", "the token's header or claims are not JSON") from None
    if not isinstance(value, dict):
        raise TokenRefused("token_malformed", "the token's header or claims are not a JSON object")
    return value
