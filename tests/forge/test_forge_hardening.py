"""Forge routes under hostile input (issue #11): bounded bodies, strict JSON and times, a JWKS with a broken key,
FITs minted for another module, and FITs as Atlassian documents them (optional context, principal, nbf, jti)."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

import httpx
import jwt
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tests.forge.conftest import BASE

from pledge.clock import FrozenClock
from pledge.forge.installations import forge_installations_table
from pledge.forge.lifecycle_events import INSTALLED_MODULE, PRE_UNINSTALL_MODULE, UPGRADED_MODULE
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation
from pledge.tenants import TenantState

INSTALLED = f"{BASE}/forge/lifecycle/installed"
UPGRADED = f"{BASE}/forge/lifecycle/upgraded"
PRE_UNINSTALL = f"{BASE}/forge/lifecycle/pre-uninstall"
EVENT = f"{BASE}/events/issue-created"
TEN_MIB = 10 * 1024 * 1024
LIFECYCLE = {INSTALLED: INSTALLED_MODULE, UPGRADED: UPGRADED_MODULE, PRE_UNINSTALL: PRE_UNINSTALL_MODULE}
# Hypothesis runs many examples against one function-scoped host: each example leaves it as it found it.
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


async def _installed(site: ForgeSite) -> Installation:
    installation = site.new_installation()
    assert [a.status for a in await site.install(INSTALLED, installation)] == [200]
    return installation


async def _post(site: ForgeSite, url: str, fit: str, content: bytes, **headers: str) -> httpx.Response:
    assert site._transport is not None
    async with httpx.AsyncClient(transport=site._transport) as client:
        return await client.post(
            url,
            content=content,
            headers={"authorization": f"Bearer {fit}", "content-type": "application/json", **headers},
        )


def _lifecycle_fit(site: ForgeSite, installation: Installation, url: str) -> str:
    return site.mint_fit(installation, module_key=LIFECYCLE[url].endpoint_key)


def _nested(depth: int) -> bytes:
    return b'{"eventType":' + b"[" * depth + b"]" * depth + b"}"


# A. Bodies and times.


async def test_a_ten_mib_note_is_refused_unread_and_nothing_is_stored(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    body = orjson.dumps({"issueKey": "SIM-1", "text": "x" * TEN_MIB})
    response = await _post(site, f"{BASE}/notes", site.mint_fit(installation, principal="u"), body)
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
    async with httpx.AsyncClient(transport=site._transport) as client:
        notes = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {site.mint_fit(installation)}"})
    assert notes.json() == {"notes": []}


@pytest.mark.parametrize("url", [INSTALLED, UPGRADED, PRE_UNINSTALL])
async def test_a_ten_mib_lifecycle_trigger_is_refused(pledge: Runtime, site: ForgeSite, url: str) -> None:
    installation = await _installed(site)
    payload = orjson.dumps({"eventType": "avi:forge:installed:app", "padding": "x" * TEN_MIB})
    response = await _post(site, url, _lifecycle_fit(site, installation, url), payload)
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
    assert pledge.tenants.list()[0].state is TenantState.INSTALLED


@pytest.mark.parametrize("url", [INSTALLED, UPGRADED, PRE_UNINSTALL, EVENT])
async def test_deeply_nested_json_is_a_400_not_a_crash(pledge: Runtime, site: ForgeSite, url: str) -> None:
    installation = await _installed(site)
    fit = _lifecycle_fit(site, installation, url) if url in LIFECYCLE else site.mint_fit(installation)
    response = await _post(site, url, fit, _nested(20_000))
    assert (response.status_code, response.json()["error"]) == (400, "body_malformed")


@pytest.mark.parametrize("value", ["1900000000", True, 1.9e9, -1, 10**30, [1], {"n": 1}])
async def test_a_signed_fit_with_a_time_that_is_no_integer_is_refused(
    pledge: Runtime, site: ForgeSite, value: object
) -> None:
    installation = await _installed(site)
    for claim in ("exp", "nbf", "iat"):
        fit = site.mint_fit(installation, **{claim: value})
        async with httpx.AsyncClient(transport=site._transport) as client:
            response = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {fit}"})
        assert (response.status_code, response.json()["error"]) == (401, "claims_invalid"), claim


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
)


@FUZZ
@given(body=st.one_of(st.binary(max_size=300), _JSON.map(orjson.dumps)))
async def test_any_body_on_a_trigger_is_answered_never_a_500(pledge: Runtime, site: ForgeSite, body: bytes) -> None:
    if not pledge.tenants.list():
        await _installed(site)
    (tenant,) = pledge.tenants.list()
    installation = Installation(tenant.installation_id or "", tenant.cloud_id or "", tenant.base_url)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    for url in (INSTALLED, UPGRADED, EVENT):
        if url == EVENT and isinstance(parsed, dict):
            continue  # a JSON object reaches the example app's handler, which is not under test here
        fit = _lifecycle_fit(site, installation, url) if url in LIFECYCLE else site.mint_fit(installation)
        response = await _post(site, url, fit, body)
        if not isinstance(parsed, dict):
            # What is no JSON object is refused before a handler runs, on every route a trigger delivers to.
            assert (response.status_code, response.json()["error"]) == (400, "body_malformed"), url
        elif url in LIFECYCLE:
            assert response.status_code in (200, 400), response.text
            assert response.status_code == 200 or set(response.json()) == {"error", "message"}


@FUZZ
@given(
    claim=st.sampled_from(["exp", "nbf", "iat"]),
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.lists(st.integers()),
    ),
)
async def test_any_time_claim_is_verified_or_refused_with_a_reason(
    pledge: Runtime, site: ForgeSite, claim: str, value: object
) -> None:
    if not pledge.tenants.list():
        await _installed(site)
    (tenant,) = pledge.tenants.list()
    installation = Installation(tenant.installation_id or "", tenant.cloud_id or "", tenant.base_url)
    fit = site.mint_fit(installation, **{claim: value}) if value is not None else site.mint_fit(installation)
    async with httpx.AsyncClient(transport=site._transport) as client:
        response = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {fit}"})
    assert response.status_code in (200, 401)
    if response.status_code == 401:
        reasons = {"claims_invalid", "token_expired", "token_not_yet_valid", "token_lifetime_too_long"}
        if isinstance(value, float) and math.isinf(value):
            reasons = {"token_malformed"}  # the minted payload says Infinity: no JSON, refused before any claim
        assert response.json()["error"] in reasons


# B. A JWKS with a broken key.


async def test_one_malformed_jwks_key_does_not_stop_the_good_one(
    pledge: Runtime, site: ForgeSite, caplog: pytest.LogCaptureFixture, clock: FrozenClock
) -> None:
    broken = {"kty": "RSA", "kid": "broken", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "secret-ish-junk"}
    site.jwks_extra_keys = [broken, {"kty": "RSA", "kid": "half"}]
    other_signer = ForgeSite(site.app_id, clock=clock)  # a key the JWKS does not publish
    with caplog.at_level(logging.WARNING, "pledge.trust.forge_fit"):
        installation = await _installed(site)  # Pledge's first JWKS fetch already has the broken keys
        for _ in range(3):
            response = await _post(site, f"{BASE}/notes", site.mint_fit(installation), b'{"issueKey":"A","text":"t"}')
            assert response.status_code == 200, response.text
            # An unknown kid makes Pledge fetch the JWKS again: the broken keys are still skipped, and logged once.
            refused = await _post(site, f"{BASE}/notes", other_signer.mint_fit(installation), b"{}")
            assert refused.json()["error"] == "unknown_kid"
            clock.advance(timedelta(seconds=31))
    lines = [record.getMessage() for record in caplog.records if "JWKS" in record.getMessage()]
    assert len(lines) == 1 and "skipped 2 unusable key(s)" in lines[0]
    assert "secret-ish-junk" not in caplog.text and "AQAB" not in caplog.text


# C. A FIT minted for another module.


@pytest.mark.parametrize("url", [INSTALLED, UPGRADED, PRE_UNINSTALL])
async def test_a_lifecycle_endpoint_refuses_a_fit_minted_for_another_module(
    pledge: Runtime, site: ForgeSite, url: str
) -> None:
    installation = await _installed(site)
    payload = orjson.dumps(site.lifecycle_payload(installation, "avi:forge:installed:app"))
    for fit in (
        site.mint_fit(installation, module_type="jira:issuePanel", module_key="pledge-ui", principal="u"),
        site.mint_fit(installation),  # an Auth.FORGE endpoint's FIT
        site.mint_fit(installation, module_key=LIFECYCLE[url].endpoint_key, context={"moduleKey": "pledge-ui"}),
        *(site.mint_fit(installation, module_key=m.module_key) for u, m in LIFECYCLE.items() if u != url),
    ):
        response = await _post(site, url, fit, payload)
        assert (response.status_code, response.json()["error"]) == (403, "wrong_module")
    assert pledge.tenants.list()[0].state is TenantState.INSTALLED


async def test_a_product_event_route_refuses_a_fit_minted_for_a_ui_module(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    made_up = orjson.dumps({"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-1", "fields": {}}})
    ui = site.mint_fit(installation, module_type="jira:issuePanel", module_key="pledge-ui", principal="u")
    response = await _post(site, EVENT, ui, made_up)
    assert (response.status_code, response.json()["error"]) == (403, "wrong_module")
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-1", "fields": dict(site.issues["SIM-1"])}}
    assert [a.status for a in await site.deliver_trigger(EVENT, installation, event)] == [200]


async def test_pre_uninstall_takes_its_own_module_and_then_the_tenant_is_uninstalled(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = await _installed(site)
    attempts = await site.pre_uninstall(PRE_UNINSTALL, installation)
    assert [a.status for a in attempts] == [200]
    assert pledge.tenants.list()[0].state is TenantState.UNINSTALLED
    assert [a.status for a in await site.upgrade(UPGRADED, installation)] == [200]


@FUZZ
@given(module_key=st.text(min_size=1, max_size=40))
async def test_pre_uninstall_refuses_every_module_key_but_its_own(
    pledge: Runtime, site: ForgeSite, module_key: str
) -> None:
    if not pledge.tenants.list():
        await _installed(site)
    (tenant,) = pledge.tenants.list()
    installation = Installation(tenant.installation_id or "", tenant.cloud_id or "", tenant.base_url)
    response = await _post(site, PRE_UNINSTALL, site.mint_fit(installation, module_key=module_key), b"{}")
    own = module_key in (PRE_UNINSTALL_MODULE.endpoint_key, PRE_UNINSTALL_MODULE.module_key)
    assert response.status_code == (200 if own else 403)
    if own:
        pledge.tenants.transition(tenant.id, TenantState.INSTALLED)  # leave the host as the next example expects
    else:
        assert pledge.tenants.get(tenant.id).state is TenantState.INSTALLED


# E. FITs as Atlassian documents them.


async def test_a_request_remote_call_without_context_principal_or_tokens_is_served(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = await _installed(site)
    fit = site.mint_fit(installation, with_context=False, nbf=None)
    response = await _post(site, f"{BASE}/notes", fit, b'{"issueKey": "SIM-1", "text": "from a function"}')
    assert response.status_code == 200, response.text


async def test_a_jti_is_single_use_and_a_fit_without_one_is_accepted(pledge: Runtime, site: ForgeSite) -> None:
    installation = await _installed(site)
    with_jti = site.mint_fit(installation)
    statuses = [(await _post(site, f"{BASE}/notes", with_jti, b'{"issueKey":"A","text":"t"}')).status_code]
    statuses.append((await _post(site, f"{BASE}/notes", with_jti, b'{"issueKey":"A","text":"t"}')).status_code)
    without = site.mint_fit(installation, jti=None)
    statuses.append((await _post(site, f"{BASE}/notes", without, b'{"issueKey":"A","text":"t"}')).status_code)
    assert statuses == [200, 401, 200]
    for junk in (123, "", ["a"]):  # a jti that cannot be remembered is refused, not a token without replay check
        response = await _post(site, f"{BASE}/notes", site.mint_fit(installation, jti=junk), b"{}")
        assert (response.status_code, response.json()["error"]) == (401, "claims_invalid")


@pytest.mark.parametrize(
    ("license_", "recorded"),
    [
        ({"active": False}, False),
        ({"active": True, "isActive": False}, True),
        ({"isActive": False}, False),
        ({"active": "no"}, None),
    ],
)
async def test_the_license_is_read_from_app_license_active(
    pledge: Runtime, site: ForgeSite, license_: dict[str, Any], recorded: bool | None
) -> None:
    installation = site.new_installation()
    unsigned = jwt.decode(
        site.mint_fit(installation, module_key=INSTALLED_MODULE.endpoint_key), options={"verify_signature": False}
    )
    app_claim: dict[str, Any] = unsigned["app"]
    app_claim["license"] = license_
    fit = site.mint_fit(installation, module_key=INSTALLED_MODULE.endpoint_key, app=app_claim)
    payload = orjson.dumps(site.lifecycle_payload(installation, "avi:forge:installed:app"))
    assert (await _post(site, INSTALLED, fit, payload)).status_code == 200
    with pledge.engine.connect() as connection:
        (row,) = connection.execute(select(forge_installations_table)).all()
    assert row.license_active is recorded
