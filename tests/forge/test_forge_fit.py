"""FIT verification: each way a token can be wrong is refused with 401 and a reason code, before any handler runs."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.forge.conftest import BASE

from pledge.clock import FrozenClock
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation


async def _installed(site: ForgeSite) -> Installation:
    installation = site.new_installation()
    attempts = await site.install(f"{BASE}/forge/lifecycle/installed", installation)
    assert [a.status for a in attempts] == [200]
    return installation


async def _get_notes(site: ForgeSite, token: str) -> tuple[int, dict[str, Any]]:
    assert site._transport is not None
    import httpx

    async with httpx.AsyncClient(transport=site._transport) as client:
        response = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json()


async def test_a_genuine_fit_is_served(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    status, body = await _get_notes(site, site.mint_fit(installation))
    assert (status, body) == (200, {"notes": []})


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (
            lambda site, inst: site.mint_fit(inst, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "signature_invalid",
        ),
        (lambda site, inst: site.mint_fit(inst, aud=f"ari:cloud:ecosystem::app/{uuid.uuid4()}"), "audience_mismatch"),
        (lambda site, inst: site.mint_fit(inst, iss="someone/else"), "issuer_mismatch"),
        (
            lambda site, inst: site.mint_fit(inst, nbf=None, iat=None, exp=int(site.clock.timestamp()) + 3600),
            "token_lifetime_too_long",
        ),
        (lambda site, inst: site.mint_fit(inst, exp=None), "claims_invalid"),
        (lambda site, inst: site.mint_fit(inst, app="not-an-object"), "claims_invalid"),
        (lambda site, inst: "not-a-jwt", "token_malformed"),
    ],
    ids=["forged-signature", "other-app", "issuer", "long-lived-without-nbf", "no-exp", "app-claim", "garbage"],
)
async def test_bad_tokens_are_refused(pledge: Runtime, site: ForgeSite, mutate: Any, code: str) -> None:
    installation = await _installed(site)
    status, body = await _get_notes(site, mutate(site, installation))
    assert (status, body["error"]) == (401, code)


async def test_expiry_and_not_before_use_a_small_leeway(pledge: Runtime, site: ForgeSite, clock: FrozenClock) -> None:
    installation = await _installed(site)
    token = site.mint_fit(installation)
    clock.advance(timedelta(seconds=25 + 4))
    assert (await _get_notes(site, token))[0] == 200
    token = site.mint_fit(installation)
    clock.advance(timedelta(seconds=25 + 6))
    assert (await _get_notes(site, token))[1]["error"] == "token_expired"
    now = int(clock.now().timestamp())
    early = site.mint_fit(installation, nbf=now + 60, iat=now + 60, exp=now + 85)
    assert (await _get_notes(site, early))[1]["error"] == "token_not_yet_valid"


async def test_a_replayed_fit_is_refused(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    token = site.mint_fit(installation)
    assert (await _get_notes(site, token))[0] == 200
    assert (await _get_notes(site, token)) == (
        401,
        {"error": "token_replayed", "message": "this FIT was already used: Forge mints one per invocation"},
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_alg_confusion_is_refused_before_any_key_is_used(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    claims = jwt.decode(site.mint_fit(installation), options={"verify_signature": False})
    public_pem = site._key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": site.kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    import hashlib
    import hmac

    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    hs256 = f"{header}.{payload}.{signature}"
    none = f"{_b64(json.dumps({'alg': 'none', 'kid': site.kid}).encode())}.{payload}."
    for token in (hs256, none):
        status, body = await _get_notes(site, token)
        assert (status, body["error"]) == (401, "algorithm_not_allowed")


async def test_a_missing_bearer_is_refused(pledge: Runtime, site: ForgeSite) -> None:
    import httpx

    async with httpx.AsyncClient(transport=site._transport) as client:
        response = await client.get(f"{BASE}/notes", headers={"authorization": "JWT abc"})
    assert response.status_code == 401 and response.json()["error"] == "token_missing"


async def test_an_unknown_kid_flood_fetches_the_jwks_once_per_interval(
    pledge: Runtime, site: ForgeSite, clock: FrozenClock
) -> None:
    installation = await _installed(site)
    assert site.jwks_requests == 1
    clock.advance(timedelta(seconds=31))
    for number in range(50):
        status, body = await _get_notes(site, site.mint_fit(installation, kid=f"made-up-{number}"))
        assert (status, body["error"]) == (401, "unknown_kid")
    assert site.jwks_requests == 2  # one refresh for the first unknown kid, none for the other 49
    clock.advance(timedelta(seconds=31))
    for number in range(50):
        await _get_notes(site, site.mint_fit(installation, kid=f"again-{number}"))
    assert site.jwks_requests == 3
    assert (await _get_notes(site, site.mint_fit(installation)))[0] == 200


async def test_jwks_down_with_a_cached_key_still_serves(pledge: Runtime, site: ForgeSite, clock: FrozenClock) -> None:
    installation = await _installed(site)
    site.jwks_available = False
    clock.advance(timedelta(hours=2))  # the cache is stale: a refresh is attempted and fails
    assert (await _get_notes(site, site.mint_fit(installation)))[0] == 200
    assert site.jwks_requests == 2


async def test_jwks_down_without_a_cached_key_fails_closed(pledge: Runtime, site: ForgeSite) -> None:
    installation = site.new_installation()
    site.jwks_available = False
    attempts = await site.install(f"{BASE}/forge/lifecycle/installed", installation)
    assert [a.status for a in attempts] == [401] * 5
    status, body = await _get_notes(site, site.mint_fit(installation))
    assert (status, body["error"]) == (401, "jwks_unavailable")
    assert pledge.tenants.list() == []


async def test_a_non_numeric_expiry_is_refused_not_crashed(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    for value, code in (("soon", "claims_invalid"), (1e20, "claims_invalid"), ("nan", "claims_invalid")):
        status, body = await _get_notes(site, site.mint_fit(installation, exp=value))
        assert (status, body["error"]) == (401, code)
    # A bare NaN is not JSON at all: the payload is refused before any claim is read.
    status, body = await _get_notes(site, site.mint_fit(installation, exp=float("nan")))
    assert (status, body["error"]) == (401, "token_malformed")
