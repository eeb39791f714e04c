"""The checks every Connect JWT goes through, one function per check, each refusing with a stable reason code (S11).

The order is the one PROTOCOLS.md prescribes: read the token without trusting it, find the key by its issuer,
verify the signature with the algorithm the endpoint's policy pins (never the one the header names), then the
times, then the query string hash. ``pledge token inspect`` runs the same functions to explain a refusal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pledge.errors import PledgeError
from pledge.trust.qsh import CONTEXT_QSH

MAX_TOKEN_LENGTH: Final = 8 * 1024
"""Longer than any token Atlassian sends (a context JWT is about 1 KiB); anything longer is refused unparsed."""

MAX_LEEWAY_SECONDS: Final = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

_AUTHORIZATION_SCHEME: Final = "jwt "


class TokenRefused(PledgeError):
    """A token that must not be accepted; ``code`` is the stable reason code a 401 body names."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A token's header and claims as read, before anything about them is trusted."""

    raw: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def issuer(self) -> str:
        issuer = self.claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise TokenRefused("claims_invalid", "the token has no 'iss' claim: it must name the sender")
        return issuer


def token_from(authorization: str | None, query_token: str | None) -> str:
    """The token of a request: ``Authorization: JWT <token>`` or, for iframe page loads, the ``jwt`` parameter."""
    if authorization is not None:
        if not authorization[: len(_AUTHORIZATION_SCHEME)].lower() == _AUTHORIZATION_SCHEME:
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
    """Decode header and claims without verifying anything; refuse what is not a well-formed JWS."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("token_too_large", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, json.JSONDecodeError):
        raise TokenRefused("token_malformed", "the token is not a well-formed JWT") from None
    if not isinstance(claims, dict):
        raise TokenRefused("token_malformed", "the token's claims are not a JSON object")
    return UnverifiedToken(token, header, claims)


def check_algorithm(token: UnverifiedToken, pinned: str) -> None:
    """The endpoint's policy names the one algorithm it accepts; a header naming another is refused."""
    algorithm = token.header.get("alg")
    if algorithm != pinned:
        shown = algorithm if isinstance(algorithm, str) and len(algorithm) <= 16 else "?"
        raise TokenRefused("algorithm_not_allowed", f"this endpoint accepts {pinned} tokens only, not {shown!r}")


def verify_signature(token: UnverifiedToken, key: str | bytes | RSAPublicKey, pinned: str) -> dict[str, Any]:
    """Verify the signature with ``key`` and the pinned algorithm; return the now trusted claims."""
    check_algorithm(token, pinned)
    try:
        claims: dict[str, Any] = jwt.decode(
            token.raw,
            key,
            algorithms=[pinned],
            # Times and audience are checked by the functions below, against the injectable clock.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRefused("signature_invalid", "the token's signature does not verify with the expected key") from None
    except jwt.PyJWTError:
        raise TokenRefused("token_malformed", "the token could not be verified: it is not a well-formed JWT") from None
    return claims


def check_times(claims: Mapping[str, Any], now: datetime, *, leeway: int = MAX_LEEWAY_SECONDS) -> None:
    """``exp`` is required and must not have passed; ``nbf`` and ``iat`` must not be in the future."""
    if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
    instant = now.timestamp()
    expires = _number(claims, "exp")
    if expires is None:
        raise TokenRefused("claims_invalid", "the token has no numeric 'exp' claim")
    if instant > expires + leeway:
        raise TokenRefused("token_expired", f"the token expired {int(instant - expires)} s ago")
    for name in ("nbf", "iat"):
        start = _number(claims, name)
        if start is not None and start > instant + leeway:
            raise TokenRefused("token_not_yet_valid", f"the token's '{name}' is {int(start - instant)} s in the future")


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


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
