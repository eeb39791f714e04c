"""Calls from the app to the product: signed for one request, three minutes, retried as the product asks."""

from __future__ import annotations

import asyncio
import posixpath
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import hypothesis
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.connect.conftest import SITE_A, World

from pledge.clock import FrozenClock
from pledge.connect import ProductClient, ProductRequestFailed
from pledge.egress import EgressRefused, OutboundClient, UnsafePath
from pledge.sim import ConnectSim, Installation, SimSite
from pledge.sim.site import RestRefused
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
    with pytest.raises(UnsafePath, match="must start with '/'"):
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


ISSUE = "/rest/api/3/issue/"


def sent_path(value: str, *, literal: bool) -> bytes | None:
    """The raw path (and query) the far end received for issue ``value``, or None when the client refused."""
    script = Script(httpx.Response(200, json={}))

    async def call() -> None:
        product = client(script, FrozenClock(datetime(2026, 11, 27, tzinfo=UTC)), [], base_url="https://acme.net")
        if literal:
            await product.get_json(ISSUE + value)
        else:
            await product.get_json(ISSUE + "{key}", key=value)

    try:
        asyncio.run(call())
    except UnsafePath:
        return None
    return script.requests[0].url.raw_path


def as_a_server_resolves(raw_path: bytes) -> str:
    """The path a lenient server would serve: decoded until stable, backslashes as '/', ';params' dropped, dot
    segments resolved."""
    path = raw_path.decode("ascii").partition("?")[0]
    for _ in range(8):
        path = unquote(path)
    segments = [segment.split(";", 1)[0] for segment in path.replace("\\", "/").split("/")]
    return posixpath.normpath("/".join(segments))


values = st.text(st.characters(codec="utf-8"), max_size=40) | st.lists(
    st.sampled_from(["..", ".", "/", "\\", "%2e", "%2E", "%2f", "%5c", "%25", "?", "#", ";", "\n", "SIM-1", "myself"]),
    max_size=8,
).map("".join)


@hypothesis.settings(max_examples=200, deadline=None)
@given(values)
def test_a_value_in_a_template_is_one_segment_of_the_intended_path_whatever_it_holds(value: str) -> None:
    sent = sent_path(value, literal=False)
    if value in ("", ".", ".."):
        assert sent is None  # no single segment can mean these
        return
    assert sent is not None and sent.startswith(ISSUE.encode())
    segment = sent[len(ISSUE) :].decode("ascii")
    assert "/" not in segment and "?" not in segment
    assert unquote(segment, errors="replace") == value.encode("utf-8", "replace").decode("utf-8", "replace")


@hypothesis.settings(max_examples=200, deadline=None)
@given(values)
def test_a_literal_path_is_refused_or_stays_under_its_prefix(value: str) -> None:
    sent = sent_path(value, literal=True)
    assert sent is None or (as_a_server_resolves(sent) + "/").startswith(ISSUE)


@pytest.mark.parametrize(
    "steered", ["SIM-1/../../myself", "SIM-1/%2e%2e/%2e%2e/myself", "SIM-1%2F..%2F..%2Fmyself", "..;/..;/myself"]
)
async def test_an_issue_key_cannot_make_the_client_call_another_api(clock: FrozenClock, steered: str) -> None:
    """An f-string path with ``SIM-1/../../myself`` called /rest/api/3/myself with the tenant's token."""
    script = Script(httpx.Response(200, json={}))
    with pytest.raises(UnsafePath) as refused:
        await client(script, clock, []).get_json(f"/rest/api/3/issue/{steered}")
    assert script.requests == [] and refused.value.status_code == 400 and steered not in str(refused.value)


async def echo_query(world: World, request: Request) -> Response:
    """A product endpoint that answers with the query it received, after verifying the JWT and its QSH."""
    try:
        await world.acme.site.authenticate(request)
    except RestRefused as exc:
        return JSONResponse({"error": "unauthorized", "reason": exc.reason}, status_code=401)
    return JSONResponse(dict(request.query_params.multi_items()))


async def test_a_query_written_into_the_path_is_sent_and_signed_with_params_merged(world: World) -> None:
    """httpx.URL(path, params=None) dropped ``?notifyUsers=false``; the QSH was signed over the truncated URL."""
    site = world.acme.site

    async def echo(request: Request) -> Response:
        return await echo_query(world, request)

    site.add_route("/rest/api/3/issue/{key}", echo, methods=("PUT", "DELETE"))
    site.add_route("/rest/api/3/issue/{key}/watchers", echo, methods=("DELETE", "GET"))
    world.router.add(SITE_A, site.asgi())
    await world.install()
    tenant_row = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    jira = ProductClient(
        tenant_row, world.runtime.tenants.shared_secret(tenant_row.id), world.runtime.egress, world.runtime.clock
    )

    put = await jira.request("PUT", "/rest/api/3/issue/{key}?notifyUsers=false", key="SIM-1", json={"fields": {}})
    assert (put.status_code, put.json()) == (200, {"notifyUsers": "false"})
    delete = await jira.request("DELETE", "/rest/api/3/issue/SIM-1/watchers?accountId=5b10a2844c20165700ede21g")
    assert (delete.status_code, delete.json()) == (200, {"accountId": "5b10a2844c20165700ede21g"})
    merged = await jira.get_json("/rest/api/3/issue/{key}/watchers?a=1", key="SIM-1", params={"b": "x y"})
    assert merged == {"a": "1", "b": "x y"}
    with pytest.raises(UnsafePath, match="both written into the product path and passed in params="):
        await jira.get_json("/rest/api/3/issue/SIM-1/watchers?a=1", params={"a": "2"})
