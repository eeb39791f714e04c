"""Connect's policy for the JWTs it reads (S11): where the token is, how long it may live, what its ``qsh`` binds.

The checks run in the order PROTOCOLS.md prescribes: read the token without trusting it, find the key by its
issuer, verify the signature with the algorithm the endpoint's policy pins (never the one the header names), then
the times, then the query string hash. Reading, signatures and times are :mod:`pledge.trust.jws`, shared with
Forge; ``pledge token inspect`` runs the same functions to explain a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pledge.errors import Refused
from pledge.trust.jws import MAX_TOKEN_LENGTH, check_times
from pledge.trust.qsh import CONTEXT_QSH

MAX_LEEWAY_SECONDS: Final = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

MAX_LIFETIME_SECONDS: Final = 60 * 60
"""The longest ``exp - iat`` accepted. Atlassian's longest-lived Connect token is the context JWT (15 minutes);
webhooks, page loads and lifecycle calls carry 1 to 3 minutes. An hour leaves room for a change of those defaults
while a token minted to outlive a leak (a year, say) is refused: a captured token is worth at most an hour."""

_AUTHORIZATION_SCHEME: Final = "jwt "


def token_from(authorization: str | None, query_token: str | None) -> str:
    """The token of a request: ``Authorization: JWT <token>`` or, for iframe page loads, the ``jwt`` parameter."""
    if authorization is not None:
        if authorization[: len(_AUTHORIZATION_SCHEME)].lower() != _AUTHORIZATION_SCHEME:
            raise Refused("token_missing", "the Authorization header must use the JWT scheme")
        token = authorization[len(_AUTHORIZATION_SCHEME) :].strip()
    elif query_token is not None:
        token = query_token
    else:
        raise Refused("token_missing", "no JWT in the Authorization header or the jwt query parameter")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Refused("token_too_large", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if not token:
        raise Refused("token_missing", "the JWT is empty")
    return token


def check_connect_times(claims: Mapping[str, Any], instant: float, *, leeway: int = MAX_LEEWAY_SECONDS) -> int:
    """The times of a Connect token (:func:`~pledge.trust.jws.check_times` with Connect's leeway and lifetime cap);
    returns its ``exp``."""
    if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
    return check_times(claims, instant, leeway=leeway, max_lifetime=MAX_LIFETIME_SECONDS)


def check_qsh(claims: Mapping[str, Any], expected: str, *, accept_context: bool) -> None:
    """The ``qsh`` claim must be this request's hash; ``context-qsh`` only where the route accepts context JWTs."""
    qsh = claims.get("qsh")
    if not isinstance(qsh, str):
        raise Refused("claims_invalid", "the token has no 'qsh' claim binding it to a request")
    if qsh == CONTEXT_QSH:
        if not accept_context:
            raise Refused(
                "context_token_not_allowed",
                "a context JWT (qsh=context-qsh) is accepted only on routes the app's own frontend calls",
            )
        return
    if qsh != expected:
        raise Refused("qsh_mismatch", "the token's qsh does not match this request's method, path and query")
