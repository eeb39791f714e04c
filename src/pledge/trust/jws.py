"""The one reader of compact JWS tokens (RFC 7515), for Connect's JWTs and Forge's invocation tokens alike (S11).

One rule each, whoever sent the token: segments are unpadded base64url (``A-Z a-z 0-9 - _`` only: no ``+``, ``/``,
``=`` or whitespace, which PyJWT's decoder would let through or skip); header and claims are strict JSON objects
(RFC 8259, via orjson: no NaN, valid UTF-8); times are JSON integers of epoch seconds between 0 and
:data:`MAX_TIME`; the algorithm is the one the caller's policy pins, never the one the header names. Every refusal
is a :class:`~pledge.errors.Refused` (401) with a code of docs/reason-codes.md.

Every authenticated request pays for this module, so it does the work once: the token is encoded and translated to
the standard base64 alphabet in one call, a header already seen (a product signs every token with the same few) is
not decoded again, and HS256 is an HMAC over a precomputed key schedule (:class:`SharedSecret`).
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
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

from pledge.cache import BoundedCache
from pledge.errors import Refused

MAX_TOKEN_LENGTH: Final = 8 * 1024
"""Longer than any token Atlassian sends (a context JWT is about 1 KiB, a FIT 1.5 KiB); anything longer is refused
unread."""

MAX_TIME: Final = 10_000_000_000
"""The latest epoch second a time claim may name (year 2286): beyond it a time is junk, and ``datetime`` could not
represent all of it."""

HEADER_CACHE_SIZE: Final = 32
"""Decoded headers a reader keeps: a product signs with a handful; the bound is for headers made up by attackers."""

HS256: Final = "HS256"
RS256: Final = "RS256"

# Swaps the two alphabets' distinct characters and turns padding into a character no alphabet has: after one
# translate, strict standard decoding accepts exactly the base64url alphabet, unpadded.
_URL_TO_STANDARD: Final = bytes.maketrans(b"-_+/=", b"+/-_!")
_PADDING: Final = (b"", b"===", b"==", b"=")
_PKCS1V15: Final = PKCS1v15()
_SHA256: Final = SHA256()
_START_CLAIMS: Final = ("iat", "nbf")

Headers = BoundedCache[bytes, Mapping[str, Any]]


def header_cache() -> Headers:
    """A cache of decoded headers, for the verifier that owns it (its lifetime is the verifier's)."""
    return BoundedCache(HEADER_CACHE_SIZE)


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
            raise Refused("claims_invalid", "the token has no 'iss' claim: it must name the sender")
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


def read_unverified(token: str, headers: Headers | None = None) -> UnverifiedToken:
    """Split a compact JWS and decode its header and claims without trusting them; refuse anything malformed.

    Parsed here once, strictly, so that the claims a verified signature vouches for are exactly the bytes that were
    signed. ``headers`` is the caller's cache of decoded headers (none: every header is decoded).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise Refused("token_too_large", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise Refused("token_malformed", "the token is not base64url-encoded") from None
    parts = raw.translate(_URL_TO_STANDARD).split(b".")
    if len(parts) != 3:
        raise Refused("token_malformed", "the token is not a JWS: it must have three dot-separated parts")
    header_segment, claims, signature = parts
    if headers is None:
        header: Mapping[str, Any] = _json_object(header_segment)
    else:
        cached = headers.get(header_segment)
        header = (
            headers.put(header_segment, MappingProxyType(_json_object(header_segment))) if cached is None else cached
        )
    return UnverifiedToken(
        token,
        header,
        _json_object(claims),
        raw[: len(header_segment) + 1 + len(claims)],
        _base64(signature),
    )


def check_algorithm(token: UnverifiedToken, pinned: str) -> None:
    """The caller's policy names the one algorithm it accepts; a header naming another is refused."""
    algorithm = token.header.get("alg")
    if algorithm != pinned:
        shown = algorithm if isinstance(algorithm, str) and len(algorithm) <= 16 else "?"
        raise Refused("algorithm_not_allowed", f"this endpoint accepts {pinned} tokens only, not {shown!r}")


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
            key.verify(token.signature, token.signing_input, _PKCS1V15, _SHA256)
            valid = True
        except InvalidSignature:
            valid = False
    else:
        raise ValueError(f"no {pinned} verification with a {type(key).__name__} key")
    if not valid:
        raise Refused("signature_invalid", "the token's signature does not verify with the expected key")
    return token.claims


def check_times(claims: Mapping[str, Any], instant: float, *, leeway: int, max_lifetime: int) -> int:
    """Refuse a token outside its lifetime, or claiming too long a one; return its ``exp``.

    ``exp`` is required and must not have passed; ``nbf`` and ``iat``, when present, must not be in the future; the
    token must not claim to live longer than ``max_lifetime`` seconds from its ``iat`` (else ``nbf``, else now).
    ``instant`` is the current time in epoch seconds (``Clock.timestamp()``), as the claims are; ``leeway`` is the
    clock skew tolerated on each comparison.
    """
    expires = time_claim(claims, "exp")
    if expires is None:
        raise Refused("claims_invalid", "the token has no 'exp' claim")
    if instant > expires + leeway:
        raise Refused("token_expired", f"the token expired {int(instant - expires)} s ago")
    issued: float | None = None
    for name in _START_CLAIMS:
        start = time_claim(claims, name)
        if start is not None:
            if start > instant + leeway:
                raise Refused("token_not_yet_valid", f"the token's '{name}' is {int(start - instant)} s in the future")
            if issued is None:  # iat, when present, is the start that counts
                issued = start
    if expires - (instant if issued is None else issued) > max_lifetime:
        raise Refused("token_lifetime_too_long", f"the token claims to live longer than {max_lifetime} s")
    return expires


def time_claim(claims: Mapping[str, Any], name: str) -> int | None:
    """A time claim: a JSON integer of epoch seconds (not a fraction, a string, a bool or a number past
    :data:`MAX_TIME`); None when absent."""
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if type(value) is not int or not 0 <= value <= MAX_TIME:
        raise Refused("claims_invalid", f"the token's '{name}' is not an integer number of seconds")
    return value


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url text (a JWS segment, a JWK's ``n`` or ``e``) by the rule of :func:`read_unverified`."""
    try:
        return _base64(segment.encode("ascii").translate(_URL_TO_STANDARD))
    except UnicodeEncodeError:
        raise Refused("token_malformed", "the token is not base64url-encoded") from None


def _base64(segment: bytes) -> bytes:
    """Decode one segment, already translated to the standard alphabet (see :data:`_URL_TO_STANDARD`)."""
    # Strict mode refuses characters outside the alphabet, which the lenient decoder would silently skip.
    try:
        return binascii.a2b_base64(segment + _PADDING[len(segment) % 4], strict_mode=True)
    except binascii.Error:
        raise Refused("token_malformed", "the token is not base64url-encoded") from None


def _json_object(segment: bytes) -> dict[str, Any]:
    # orjson: strict RFC 8259 (no NaN or Infinity, valid UTF-8), a quarter of the json module's cost here, and any
    # nesting depth is a JSONDecodeError, never a RecursionError.
    try:
        value = orjson.loads(_base64(segment))
    except orjson.JSONDecodeError:
        raise Refused("token_malformed", "the token's header or claims are not JSON") from None
    if not isinstance(value, dict):
        raise Refused("token_malformed", "the token's header or claims are not a JSON object")
    return value
