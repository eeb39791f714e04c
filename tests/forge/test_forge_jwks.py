"""The Forge JWKS as whatever a host may publish, and the staging JWKS, checked on FitVerifier directly."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.errors import Refused
from pledge.sim.forge_site import ForgeSite
from pledge.trust.forge_fit import FitVerifier, JwksCache

APP_ID = "ari:cloud:ecosystem::app/5b8e6d0a-2f64-4c3e-9a51-0d7c3f1e2b90"
STAGING_API = "https://api.stg.atlassian.com/ex/jira/0f5c1a52-7d1e-4b6c-9d7e-8c2b1f0a3e4d"
_SITE = ForgeSite(APP_ID, clock=FrozenClock())  # one RSA key for every example: generating one costs 50 ms


class _Published:
    """An egress client answering the JWKS URL with fixed bytes."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    async def request(self, method: str, url: str, **_: Any) -> httpx.Response:
        return httpx.Response(self.status, content=self.body, request=httpx.Request(method, url))


def _verifier(body: bytes, *, staging: bytes | None = None) -> FitVerifier:
    clock = _SITE.clock
    assert isinstance(clock, FrozenClock)
    jwks = JwksCache("https://jwks.test", _Published(body), clock)  # type: ignore[arg-type]
    staging_jwks = None if staging is None else JwksCache("https://stg.test", _Published(staging), clock)  # type: ignore[arg-type]
    return FitVerifier(APP_ID, jwks, clock, staging_jwks=staging_jwks)


def _verify(verifier: FitVerifier, fit: str) -> Any:
    return asyncio.run(verifier.verify(f"Bearer {fit}"))


_JUNK_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=40),
    st.binary(max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()),
    st.lists(st.integers(0, 9), max_size=3),
)
_JUNK_KEY = st.one_of(
    _JUNK_VALUE,
    st.fixed_dictionaries(
        {"kty": st.sampled_from(["RSA", "EC", "oct", "rsa"])},
        optional={
            "kid": st.one_of(st.text(max_size=20), st.integers(-(2**63), 2**63 - 1)),
            "use": st.sampled_from(["sig", "enc", 1]),
            "alg": st.sampled_from(["RS256", "RS512", "none", 3]),
            "n": _JUNK_VALUE,
            "e": _JUNK_VALUE,
            "d": _JUNK_VALUE,
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(before=st.lists(_JUNK_KEY, max_size=4), after=st.lists(_JUNK_KEY, max_size=4))
def test_junk_keys_beside_a_good_one_never_stop_its_fits(before: list[Any], after: list[Any]) -> None:
    # Junk sharing the good key's kid is not junk beside it but a replacement: kept out of the examples.
    junk = [k for k in before + after if not (isinstance(k, dict) and k.get("kid") == _SITE.kid)]
    document = {"keys": [*junk[: len(before)], _SITE.public_jwk(), *junk[len(before) :]]}
    invocation = _verify(_verifier(orjson.dumps(document)), _SITE.mint_fit(_SITE.new_installation()))
    assert invocation.app_id == APP_ID


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["keys", "kty", "n"]), inner),
        ).map(orjson.dumps),
        st.lists(_JUNK_KEY, max_size=5).map(lambda keys: orjson.dumps({"keys": keys})),
    ),
    status=st.sampled_from([200, 404, 500]),
)
def test_any_jwks_body_is_a_refusal_with_a_reason_never_a_crash(body: bytes, status: int) -> None:
    clock = _SITE.clock
    assert isinstance(clock, FrozenClock)
    verifier = FitVerifier(APP_ID, JwksCache("https://jwks.test", _Published(body, status), clock), clock)  # type: ignore[arg-type]
    with pytest.raises(Refused) as refused:
        _verify(verifier, _SITE.mint_fit(_SITE.new_installation()))
    assert refused.value.code in {"unknown_kid", "jwks_unavailable"}


def test_a_deeply_nested_jwks_is_unavailable_not_a_recursion_error() -> None:
    verifier = _verifier(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(Refused) as refused:
        _verify(verifier, _SITE.mint_fit(_SITE.new_installation()))
    assert refused.value.code == "jwks_unavailable"


def _staging_fit(site: ForgeSite, api_base_url: str) -> str:
    installation = site.new_installation()
    app = {"installationId": installation.installation_id, "apiBaseUrl": api_base_url}
    return site.mint_fit(installation, app=app)


def test_a_staging_fit_is_checked_against_the_staging_jwks_only() -> None:
    staging = ForgeSite(APP_ID, clock=_SITE.clock)
    production = orjson.dumps({"keys": [_SITE.public_jwk()]})
    staging_keys = orjson.dumps({"keys": [staging.public_jwk()]})

    with pytest.raises(Refused) as refused:
        _verify(_verifier(production), _staging_fit(staging, STAGING_API))
    assert refused.value.code == "staging_not_accepted"  # no staging JWKS configured: refused

    verifier = _verifier(production, staging=staging_keys)
    assert _verify(verifier, _staging_fit(staging, STAGING_API)).api_base_url == STAGING_API
    # A staging key never vouches for a production installation, nor a production key for a staging one.
    for fit in (_staging_fit(staging, "https://api.atlassian.com/ex/jira/x"), _staging_fit(_SITE, STAGING_API)):
        with pytest.raises(Refused) as refused:
            _verify(verifier, fit)
        assert refused.value.code == "unknown_kid"


def test_the_staging_jwks_is_a_stated_egress_destination_only_when_set(tmp_path: Path) -> None:
    from pledge.runtime import Runtime
    from pledge.statement.facts import gather

    staging = "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json"
    for configured, expected in ((None, False), (staging, True)):
        settings = load_settings(data_dir=tmp_path / "data", forge_staging_jwks_url=configured)
        runtime = Runtime.open(settings)
        try:
            origins = runtime.egress.allowed
        finally:
            runtime.close()
        stated = set(gather(settings, []).egress_destinations)
        assert ("https://forge.cdn.stg.atlassian-dev.net" in origins) is expected
        assert origins == stated  # the statement names every origin the client may reach
