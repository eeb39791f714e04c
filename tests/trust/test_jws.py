"""The one JWS reader against PyJWT (issue #12, item 2): valid tokens read identically, and whatever PyJWT refuses,
mutated however, Pledge refuses too; Pledge also refuses what PyJWT lets through (``+``, ``/``, padding, spaces)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from pledge.errors import Refused
from pledge.trust.jws import (
    HS256,
    MAX_TIME,
    RS256,
    SharedSecret,
    check_times,
    header_cache,
    read_unverified,
    verify_signature,
)

SECRET = b"a shared secret of thirty-two by"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NOW = 1_795_780_800

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**53), max_value=2**53), st.text(max_size=12)
)
# Registered claims are left out: the times, issuer and audience are set below or tested on their own; PyJWT also
# refuses a `sub` or `jti` that is no string, which the reader passes on and the verifiers judge where they use them
# (Connect's `sub` is no account then; a FIT's non-string `jti` is refused: tests/forge).
REGISTERED = {"exp", "nbf", "iat", "iss", "aud", "sub", "jti"}
claim_sets = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k not in REGISTERED),
    st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    ),
    max_size=4,
).map(lambda claims: {**claims, "iss": "site", "exp": NOW + 60, "iat": NOW})


def _ours(token: str, key: SharedSecret | rsa.RSAPublicKey, pinned: str) -> dict[str, Any]:
    claims = verify_signature(read_unverified(token, header_cache()), key, pinned)
    check_times(claims, NOW, leeway=30, max_lifetime=3600)
    return claims


def _pyjwt(token: str, key: bytes | rsa.RSAPublicKey, pinned: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token, key, algorithms=[pinned], options={"verify_exp": False, "verify_iat": False, "verify_aud": False}
    )
    return decoded


@given(claims=claim_sets)
def test_a_valid_hs256_token_reads_as_pyjwt_reads_it(claims: dict[str, Any]) -> None:
    token = jwt.encode(claims, SECRET, algorithm=HS256)
    assert _ours(token, SharedSecret(SECRET), HS256) == _pyjwt(token, SECRET, HS256) == claims


@given(claims=claim_sets)
def test_a_valid_rs256_token_reads_as_pyjwt_reads_it(claims: dict[str, Any]) -> None:
    token = jwt.encode(claims, RSA_KEY, algorithm=RS256, headers={"kid": "k1"})
    assert _ours(token, RSA_KEY.public_key(), RS256) == _pyjwt(token, RSA_KEY.public_key(), RS256) == claims


MUTANT_CHARACTERS = st.sampled_from("AQgw_-+/=. \n\t%é0zZ")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    token = jwt.encode(draw(claim_sets), SECRET, algorithm=HS256)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(token)))
        kind = draw(st.sampled_from(("replace", "insert", "delete", "append")))
        character = draw(MUTANT_CHARACTERS)
        if kind == "replace" and position < len(token):
            token = token[:position] + character + token[position + 1 :]
        elif kind == "insert":
            token = token[:position] + character + token[position:]
        elif kind == "delete" and position < len(token):
            token = token[:position] + token[position + 1 :]
        else:
            token += character
    return token


def _refused_by_pyjwt(token: str) -> bool:
    try:
        _pyjwt(token, SECRET, HS256)
    except jwt.PyJWTError:
        return True
    return False


def _refused_by_us(token: str) -> str | None:
    try:
        _ours(token, SharedSecret(SECRET), HS256)
    except Refused as refused:
        assert refused.status_code == 401
        return refused.code
    return None


@given(token=mutated())
def test_whatever_pyjwt_refuses_is_refused_and_more(token: str) -> None:
    code = _refused_by_us(token)
    if _refused_by_pyjwt(token):
        assert code is not None
    if any(character in token for character in "+/= \n\t%é"):
        assert code is not None  # PyJWT decodes these leniently; one base64url rule refuses them
    if code is None:
        assert _pyjwt(token, SECRET, HS256) == _ours(token, SharedSecret(SECRET), HS256)


@pytest.mark.parametrize("extra", ["+", "/", "=", "==", " "])
def test_segments_with_other_alphabets_or_padding_are_malformed(extra: str) -> None:
    header, claims, signature = jwt.encode({"iss": "site", "exp": NOW}, SECRET, algorithm=HS256).split(".")
    for token in (f"{header}{extra}.{claims}.{signature}", f"{header}.{claims}{extra}.{signature}"):
        with pytest.raises(Refused) as refused:
            read_unverified(token)
        assert refused.value.code == "token_malformed"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": NOW + 60.5}, "claims_invalid"),
        ({"exp": str(NOW + 60)}, "claims_invalid"),
        ({"exp": MAX_TIME + 1}, "claims_invalid"),
        ({"exp": -1}, "claims_invalid"),
        ({"exp": NOW + 60, "nbf": 1e3}, "claims_invalid"),
        ({"exp": NOW - 31}, "token_expired"),
        ({"exp": NOW + 60, "iat": NOW + 31}, "token_not_yet_valid"),
        ({"exp": NOW + 3601, "iat": NOW}, "token_lifetime_too_long"),
    ],
)
def test_one_number_rule_for_times(claims: dict[str, Any], code: str) -> None:
    with pytest.raises(Refused) as refused:
        check_times(claims, NOW, leeway=30, max_lifetime=3600)
    assert refused.value.code == code


def test_the_header_cache_stays_bounded() -> None:
    headers = header_cache()
    for number in range(3 * headers.limit):
        token = jwt.encode({"exp": NOW}, SECRET, algorithm=HS256, headers={"kid": str(number)})
        read_unverified(token, headers)
        assert len(headers) <= headers.limit


def test_a_header_read_from_the_cache_cannot_be_changed() -> None:
    headers = header_cache()
    token = jwt.encode({"exp": NOW}, SECRET, algorithm=HS256)
    with pytest.raises(TypeError):
        read_unverified(token, headers).header["alg"] = "none"  # type: ignore[index]
    assert read_unverified(token, headers).header["alg"] == HS256
