"""Calls back to the product with the Forge app and user tokens: through egress, held in memory only."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx
import hypothesis
import pytest
from examples.forge_notes.app import app
from hypothesis import given
from hypothesis import strategies as st
from tests.forge.conftest import BASE
from tests.forge.test_forge_lifecycle import INSTALLED, _dump

from pledge.clock import FrozenClock
from pledge.egress import EgressRefused, OutboundClient, UnsafePath
from pledge.forge import app_client
from pledge.forge.api_client import ForgeApiClient, Token, TokenCache, TokenUnavailable
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite
from pledge.statement.facts import Deployment
from pledge.statement.publish import publish


async def test_a_ui_call_reads_the_issue_as_the_app_and_the_user_and_keeps_no_token(
    pledge: Runtime, site: ForgeSite, caplog: pytest.LogCaptureFixture
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    app_token, user_token = site.app_token(installation), site.user_token(installation, "user-1")
    with caplog.at_level(logging.DEBUG):
        response = await site.invoke_remote(
            f"{BASE}/issue-summary", installation, {"issueKey": "SIM-1"}, principal="user-1"
        )
    assert response.json() == {"summary": "Printer on fire", "status": "In Progress"}
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-2"}}
    assert [a.status for a in await site.deliver_trigger(f"{BASE}/events/issue-created", installation, event)] == [200]
    assert [(call.path.rsplit("/", 1)[-1], call.token_kind, call.status) for call in site.rest_calls] == [
        ("SIM-1", "user", 200),
        ("SIM-2", "app", 200),
    ]
    assert all(call.path.startswith(f"/ex/jira/{installation.cloud_id}/rest/api/3/") for call in site.rest_calls)
    stored = _dump(pledge)
    for secret in (app_token, user_token):
        assert secret not in stored and secret not in caplog.text


async def test_a_job_calls_the_product_with_the_held_app_token_until_it_expires(
    pledge: Runtime, site: ForgeSite, clock: FrozenClock
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    (tenant,) = pledge.tenants.list()
    with pytest.raises(TokenUnavailable):
        app_client(pledge, app, tenant.id)
    await site.invoke_remote(f"{BASE}/notes", installation, method="GET", principal="user-1")
    issue = await app_client(pledge, app, tenant.id).get_json("/rest/api/3/issue/SIM-1")
    assert issue["key"] == "SIM-1" and site.rest_calls[-1].token_kind == "app"
    clock.advance(timedelta(hours=1))
    with pytest.raises(TokenUnavailable):
        app_client(pledge, app, tenant.id)


async def test_an_event_is_delivered_with_a_verified_fit(pledge: Runtime, site: ForgeSite) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-2"}}
    attempts = await site.deliver_trigger(f"{BASE}/events/issue-created", installation, event)
    assert [a.status for a in attempts] == [200]
    notes = await site.invoke_remote(f"{BASE}/notes", installation, method="GET", principal="user-1")
    assert notes.json() == {"notes": [{"issueKey": "SIM-2", "text": "created: Coffee machine descales itself at 3 am"}]}


def test_the_app_token_is_held_until_its_exp_only(clock: FrozenClock) -> None:
    site = ForgeSite(clock=clock)
    token = Token.from_header(site.app_token(site.new_installation()), clock.now(), clock.now())
    assert token.expires_at == clock.now() + timedelta(hours=1)
    assert site.app_token(site.new_installation()) not in repr(token)
    cache = TokenCache(clock)
    cache.offer("tenant-1", token, "https://api.atlassian.com/ex/jira/c")
    assert cache.get("tenant-1") == (token, "https://api.atlassian.com/ex/jira/c")
    clock.advance(timedelta(hours=1))
    with pytest.raises(TokenUnavailable, match="no live Forge app token for tenant tenant-1"):
        cache.get("tenant-1")


def test_an_opaque_token_lives_as_long_as_its_invocation(clock: FrozenClock) -> None:
    fit_exp = clock.now() + timedelta(seconds=25)
    assert Token.from_header("opaque-value", clock.now(), fit_exp).expires_at == fit_exp


async def test_product_calls_only_reach_allowed_hosts(clock: FrozenClock) -> None:
    sent: list[str] = []
    transport = httpx.MockTransport(lambda request: sent.append(str(request.url)) or httpx.Response(200, json={}))
    egress = OutboundClient(["https://api.atlassian.com"], transport=transport)
    token = Token("t", datetime(2030, 1, 1, tzinfo=UTC))
    assert await ForgeApiClient(egress, "https://api.atlassian.com/ex/jira/c", token, clock).get_json("/x") == {}
    with pytest.raises(EgressRefused):
        await ForgeApiClient(egress, "https://evil.example/ex/jira/c", token, clock).get_json("/x")
    assert sent == ["https://api.atlassian.com/ex/jira/c/x"]
    await egress.aclose()


@pytest.mark.parametrize(
    "issue_key", ["SIM-1/../../myself", "SIM-1%2F..%2F..%2Fmyself", "..", "SIM-1?x#/../myself", "SIM-1\\..\\myself"]
)
async def test_an_issue_key_from_the_frontend_cannot_steer_the_users_token_to_another_api(
    pledge: Runtime, site: ForgeSite, issue_key: str
) -> None:
    """The example once passed issueKey into an f-string path: ``SIM-1/../../myself`` read /rest/api/3/myself."""
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    response = await site.invoke_remote(
        f"{BASE}/issue-summary", installation, {"issueKey": issue_key}, principal="user-1"
    )
    # A value no segment can hold is refused (400); any other is one segment the product does not know (502 here).
    assert response.status_code == (400 if issue_key == ".." else 502), response.text
    prefix = f"/ex/jira/{installation.cloud_id}/rest/api/3/issue/"
    assert all(call.path.startswith(prefix) and "/" not in call.path[len(prefix) :] for call in site.rest_calls)


async def test_a_template_sends_each_value_as_one_segment_and_keeps_a_written_query(clock: FrozenClock) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json={}))
    egress = OutboundClient(["https://api.atlassian.com"], transport=transport)
    token = Token("t", datetime(2030, 1, 1, tzinfo=UTC))
    client = ForgeApiClient(egress, "https://api.atlassian.com/ex/jira/c", token, clock)
    await client.get_json("/rest/api/3/issue/{key}/comment/{id}", key="A/../B", id=7)
    await client.request("PUT", "/rest/api/3/issue/{key}?notifyUsers=false", key="SIM-1", json={})
    await client.request("DELETE", "/rest/api/3/issue/SIM-1/watchers?accountId=a1", params={"x": "1"})
    assert [request.url.raw_path for request in sent] == [
        b"/ex/jira/c/rest/api/3/issue/A%2F..%2FB/comment/7",
        b"/ex/jira/c/rest/api/3/issue/SIM-1?notifyUsers=false",
        b"/ex/jira/c/rest/api/3/issue/SIM-1/watchers?accountId=a1&x=1",
    ]
    with pytest.raises(UnsafePath, match=r"'\.' or '\.\.' segment"):
        await client.get_json("/rest/api/3/issue/SIM-1/../../myself")
    with pytest.raises(UnsafePath, match="placeholders"):
        await client.get_json("/rest/api/3/issue/{key}", id="SIM-1")
    assert len(sent) == 3
    await egress.aclose()


@hypothesis.settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=40) | st.lists(st.sampled_from(["..", "/", "%2e", "%2F", "\\", "?", "#", ";", "x"])).map("".join)
)
def test_any_issue_key_reaches_the_issue_path_as_one_segment_or_is_refused(issue_key: str) -> None:
    """The class: whatever a frontend sends as issueKey, the user's token goes to /rest/api/3/issue/<it> or nowhere."""
    sent: list[httpx.Request] = []

    async def call() -> None:
        transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json={}))
        egress = OutboundClient(["https://api.atlassian.com"], transport=transport)
        token = Token("t", datetime(2030, 1, 1, tzinfo=UTC))
        client = ForgeApiClient(egress, "https://api.atlassian.com/ex/jira/c", token, FrozenClock())
        try:
            await client.get_json("/rest/api/3/issue/{key}", key=issue_key)
        finally:
            await egress.aclose()

    try:
        asyncio.run(call())
    except UnsafePath:
        assert issue_key in ("", ".", "..") and sent == []
        return
    (request,) = sent
    prefix = b"/ex/jira/c/rest/api/3/issue/"
    assert request.url.raw_path.startswith(prefix)
    assert unquote(request.url.raw_path[len(prefix) :].decode("ascii")) == issue_key


async def test_a_statement_verification_in_the_serving_process_leaves_jobs_the_app_token(
    pledge: Runtime, site: ForgeSite
) -> None:
    # The host verifies its statement at start-up and may again while serving: the checks build their own
    # verifiers, which once replaced the served one in a process-wide table, so jobs found no app token any more.
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    (tenant,) = pledge.tenants.list()
    await site.invoke_remote(f"{BASE}/notes", installation, method="GET", principal="user-1")
    for _ in range(2):
        deployment = Deployment.of(pledge, [app])
        await publish(deployment)
        issue = await app_client(pledge, app, tenant.id).get_json("/rest/api/3/issue/SIM-1")
        assert issue["key"] == "SIM-1" and site.rest_calls[-1].token_kind == "app"
