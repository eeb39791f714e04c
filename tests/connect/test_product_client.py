"""Calls from the app to the product: signed for one request, three minutes, retried as the product asks."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import jwt
import pytest
from tests.connect.conftest import World

from pledge.clock import FrozenClock
from pledge.connect import ProductClient, ProductRequestFailed
from pledge.egress import EgressRefused, OutboundClient
from pledge.sim import ConnectSim, Installation, SimSite
from pledge.tenants import Tenant, TenantState
from pledge.trust.qsh import query_string_hash

SECRET = "s" * 43


def tenant(base_url: str) -> Tenant:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return Tenant(
        id="t1",
        app_key="issue-mailer",
        client_key="ck",
        installation_id=None,
        cloud_id=None,
        base_url=base_url,
        product_type="confluence",
        region="us-east-1",
        state=TenantState.ENABLED,
        created_at=now,
        updated_at=now,
        state_changed_at=now,
    )


class Script:
    """A product that answers from a script and remembers what it was sent."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def client(
    script: Script, clock: FrozenClock, slept: list[float], base_url: str = "https://acme.atlassian.net/wiki"
) -> ProductClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    egress = OutboundClient([], transport=httpx.MockTransport(script))
    return ProductClient(tenant(base_url), SECRET, egress, clock, sleep=sleep)


async def test_each_call_carries_a_three_minute_token_bound_to_it_without_the_context_path(clock: FrozenClock) -> None:
    script = Script(httpx.Response(200, json={"ok": True}))
    assert await client(script, clock, []).get_json("/rest/api/content/1", params={"expand": "body.storage"}) == {
        "ok": True
    }
    sent = script.requests[0]
    assert str(sent.url) == "https://acme.atlassian.net/wiki/rest/api/content/1?expand=body.storage"
    claims = jwt.decode(
        sent.headers["authorization"].removeprefix("JWT "), SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims["iss"] == "issue-mailer"
    assert claims["iat"] == int(clock.now().timestamp())
    assert claims["exp"] - claims["iat"] == 180
    assert claims["qsh"] == query_string_hash("GET", "/rest/api/content/1?expand=body.storage")


async def test_429_waits_what_retry_after_asks_and_signs_again(clock: FrozenClock) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    slept: list[float] = []
    await client(script, clock, slept).get_json("/rest/api/3/myself")
    assert slept == [7.0]
    assert len(script.requests) == 2


async def test_5xx_backs_off_exponentially_then_gives_up(clock: FrozenClock) -> None:
    script = Script(*(httpx.Response(503) for _ in range(4)))
    slept: list[float] = []
    with pytest.raises(ProductRequestFailed, match="answered 503"):
        await client(script, clock, slept).get_json("/rest/api/3/myself")
    assert slept == [0.5, 1.0, 2.0]


async def test_retry_after_as_an_http_date_and_beyond_the_cap(clock: FrozenClock) -> None:
    when = "Fri, 27 Nov 2026 09:00:05 GMT"
    script = Script(httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json={}))
    slept: list[float] = []
    await client(script, clock, slept).get_json("/x")
    assert slept == [5.0]
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}))
    slept = []
    response = await client(script, clock, slept).request("GET", "/x")
    assert response.status_code == 429 and slept == []  # an hour is not waited for inside a request


async def test_a_post_is_retried_on_429_only(clock: FrozenClock) -> None:
    script = Script(httpx.Response(502), httpx.Response(200))
    assert (await client(script, clock, []).request("POST", "/rest/api/3/issue", json={})).status_code == 502
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(201))
    assert (await client(script, clock, []).request("POST", "/rest/api/3/issue", json={})).status_code == 201


async def test_the_client_reaches_only_its_tenants_site(clock: FrozenClock) -> None:
    product = client(Script(), clock, [], base_url="https://acme.atlassian.net")
    with pytest.raises(ValueError, match="must start with '/'"):
        await product.request("GET", "@evil.example.com/x")
    egress = OutboundClient([])
    with pytest.raises(EgressRefused):
        await egress.request("GET", "https://evil.example.com/x")


async def test_the_simulated_jira_verifies_the_apps_signature_and_qsh(world: World) -> None:
    await world.install()
    tenant_row = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    secret = world.runtime.tenants.shared_secret(tenant_row.id)
    good = ProductClient(tenant_row, secret, world.runtime.egress, world.runtime.clock)
    assert (await good.get_json("/rest/api/3/myself"))["accountId"] == "app:issue-mailer"
    bad = ProductClient(tenant_row, "not-the-secret-" * 3, world.runtime.egress, world.runtime.clock)
    assert (await bad.request("GET", "/rest/api/3/myself")).status_code == 401
    token = good.token("GET", "http://acme.sim.test/rest/api/3/issue/SIM-2")
    response = await world.runtime.egress.request(
        "GET",
        "http://acme.sim.test/rest/api/3/issue/SIM-1",
        headers={"Authorization": f"JWT {token}"},
        also_allow=["http://acme.sim.test"],
    )
    assert response.status_code == 401 and "qsh" in response.json()["reason"]


async def test_the_qsh_leaves_out_the_products_context_path(clock: FrozenClock) -> None:
    """Confluence lives under /wiki; the product hashes paths without it, and so must the app."""
    sim = ConnectSim(SimSite("http://wiki.sim.test", clock, product="confluence", context_path="/wiki"))
    sim.installations["issue-mailer"] = Installation(
        "issue-mailer", "http://127.0.0.1:8000/apps/issue-mailer", {}, sim.client_key, SECRET, "ari"
    )
    egress = OutboundClient([], transport=httpx.ASGITransport(app=sim.site.asgi()))
    product = ProductClient(tenant(sim.site.product_url), SECRET, egress, clock)
    assert (await product.get_json("/rest/api/3/myself"))["accountId"] == "app:issue-mailer"
    assert sim.site.recorder.received()[0].url == "http://wiki.sim.test/wiki/rest/api/3/myself"
