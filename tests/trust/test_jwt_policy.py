"""The JWT checks every Connect request goes through, at the level of their building blocks (S11)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.errors import Refused
from pledge.trust.jws import HS256, MAX_TIME, SharedSecret, read_unverified, verify_signature
from pledge.trust.jwt_policy import MAX_LEEWAY_SECONDS, MAX_LIFETIME_SECONDS
from pledge.trust.jwt_policy import check_connect_times as check_times

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
HEADER = b'{"alg":"HS256","typ":"JWT"}'


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: bytes, secret: bytes = b"s3cret") -> str:
    signing_input = segment(HEADER) + "." + segment(claims)
    signature = hmac.digest(secret, signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{segment(signature)}"


@given(key=st.binary(max_size=200), message=st.binary(max_size=500))
def test_the_precomputed_hmac_is_hmac_sha256(key: bytes, message: bytes) -> None:
    # Keys shorter than, equal to and longer than SHA-256's 64-byte block take the three paths of RFC 2104.
    assert SharedSecret(key).sign(message) == hmac.digest(key, message, hashlib.sha256)


def test_a_token_verifies_with_its_secret_and_no_other() -> None:
    token = read_unverified(signed(b'{"iss":"site","exp":1}'))
    assert verify_signature(token, SharedSecret(b"s3cret"), HS256) == {"iss": "site", "exp": 1}
    assert verify_signature(token, "s3cret", HS256)["iss"] == "site"
    with pytest.raises(Refused) as refused:
        verify_signature(token, SharedSecret(b"s3cret "), HS256)
    assert refused.value.code == "signature_invalid"


@pytest.mark.parametrize(
    "claims",
    [b'{"iss":"site","exp":NaN}', b'{"iss":"site","exp":Infinity}', b'{"iss":"\xff"}', b"[1]", b'{"iss":'],
)
def test_claims_that_are_not_strict_json_objects_are_malformed(claims: bytes) -> None:
    with pytest.raises(Refused) as refused:
        read_unverified(signed(claims))
    assert refused.value.code == "token_malformed"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": T - 31}, "token_expired"),
        ({"exp": True}, "claims_invalid"),
        ({"exp": "1795780800"}, "claims_invalid"),
        ({"exp": T + 60.0}, "claims_invalid"),  # times are JSON integers, for Connect as for Forge
        ({"exp": 2**40}, "claims_invalid"),
        ({"exp": T + 60, "nbf": T + 31}, "token_not_yet_valid"),
        ({"exp": T + 60, "iat": T + 31}, "token_not_yet_valid"),
        ({"exp": T + 60, "nbf": True}, "claims_invalid"),
        ({"exp": T + 60, "iat": "later"}, "claims_invalid"),
    ],
)
def test_times_are_refused_outside_the_leeway(claims: dict[str, object], code: str) -> None:
    with pytest.raises(Refused) as refused:
        check_times(json.loads(json.dumps(claims)), NOW.timestamp())
    assert refused.value.code == code


def test_times_within_the_leeway_pass() -> None:
    check_times({"exp": T - 30, "nbf": T + 30, "iat": T + 30}, T)


def test_a_token_may_not_claim_to_live_longer_than_the_cap() -> None:
    """Issue #11 (10c): Connect tokens had no lifetime cap; a token minted to last a year was accepted."""
    instant = T
    check_times({"exp": instant + MAX_LIFETIME_SECONDS, "iat": instant}, instant)
    check_times({"exp": instant + MAX_LIFETIME_SECONDS - 10, "nbf": instant - 10}, instant)
    for claims in (
        {"exp": instant + MAX_LIFETIME_SECONDS + 1, "iat": instant},
        {"exp": instant + 60, "iat": instant + 60 - MAX_LIFETIME_SECONDS - 1},  # issued long ago, still valid
        {"exp": instant + 365 * 86400},  # no iat: the lifetime counts from now
        {"exp": instant + MAX_LIFETIME_SECONDS + 1, "nbf": instant},
        {"exp": MAX_TIME, "iat": instant, "nbf": instant},
    ):
        with pytest.raises(Refused) as refused:
            check_times(claims, instant)
        assert refused.value.code == "token_lifetime_too_long"


@given(
    iat=st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
    exp=st.integers(min_value=-(2**40), max_value=2**41),
    offset=st.floats(min_value=-(2**20), max_value=2**20, allow_nan=False),
)
def test_an_accepted_token_never_lives_longer_than_the_cap(iat: int | None, exp: int, offset: float) -> None:
    instant = NOW.timestamp() + offset
    claims: dict[str, object] = {"exp": exp} if iat is None else {"exp": exp, "iat": iat}
    try:
        check_times(claims, instant)
    except Refused:
        return
    start = instant if iat is None else iat
    assert exp - start <= MAX_LIFETIME_SECONDS
    assert exp - instant <= MAX_LIFETIME_SECONDS + MAX_LEEWAY_SECONDS
