"""A captured lifecycle request cannot be played again: each token is accepted once, and in order of issue.

The attack run: a signed ``installed`` replayed within its token's lifetime with the attacker's ``sharedSecret``
handed the tenant to the attacker (the body is not signed), and a replay after ``uninstalled`` re-activated it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.connect.conftest import APP_BASE_URL, World
from tests.connect.test_lifecycle import install_request, refused, secret_of, with_body, with_token

from pledge.clock import FrozenClock
from pledge.runtime import Runtime
from pledge.tenants import TenantState
from pledge.tenants.registry import lifecycle_tokens_table

WEBHOOK_URL = APP_BASE_URL + "/webhooks/jira-issue-updated"
ISSUE = {"issue": {"key": "SIM-1", "fields": {"summary": "Printer on fire"}}}
ATTACKER_SECRET = "attacker-chosen-secret-of-sufficient-length-0123456789"


def state(world: World) -> TenantState:
    return world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key").state


def with_secret(request: httpx.Request, secret: str) -> httpx.Request:
    return with_body(request, json.loads(request.content) | {"sharedSecret": secret})


async def webhook_status(world: World, secret: str) -> int:
    request = world.acme.webhook_request("issue-mailer", "jira:issue_updated", ISSUE)
    installation = world.acme.installation("issue-mailer")
    token = world.acme.shared_token(installation, "POST", WEBHOOK_URL)
    if secret != installation.shared_secret:
        real, installation.shared_secret = installation.shared_secret, secret
        token = world.acme.shared_token(installation, "POST", WEBHOOK_URL)
        installation.shared_secret = real
    return (await world.acme.send(with_token(request, token))).status_code


async def test_a_replayed_install_with_another_secret_is_refused_and_the_real_secret_keeps_working(
    world: World,
) -> None:
    installation = await world.install()
    captured = install_request(world.acme, installation)
    sent = world.acme.site.recorder.sent("/lifecycle/installed")[0]
    assert captured.headers["authorization"] == sent.headers["authorization"]  # the very token that was delivered
    refused(await world.acme.send(with_secret(captured, ATTACKER_SECRET)), "token_replayed")
    assert secret_of(world, "acme-client-key") == installation.shared_secret
    assert await webhook_status(world, installation.shared_secret) == 204
    assert await webhook_status(world, ATTACKER_SECRET) == 401


async def test_a_replayed_install_after_uninstall_does_not_bring_the_tenant_back(world: World) -> None:
    installation = await world.install()
    captured = install_request(world.acme, installation)  # the very request the site sent (same instant)
    world.tick()
    await world.acme.uninstall("issue-mailer")
    refused(await world.acme.send(with_secret(captured, ATTACKER_SECRET)), "token_replayed")
    assert state(world) is TenantState.UNINSTALLED


async def test_an_older_install_never_follows_a_newer_uninstall(world: World) -> None:
    """A token captured but never delivered (so never seen): its ``iat`` is older than the uninstall's."""
    installation = await world.install()
    world.tick()
    undelivered = install_request(world.acme, installation)
    world.tick()
    await world.acme.uninstall("issue-mailer")
    refused(await world.acme.send(with_secret(undelivered, ATTACKER_SECRET)), "lifecycle_out_of_order")
    assert state(world) is TenantState.UNINSTALLED
    assert secret_of(world, "acme-client-key") == installation.shared_secret


async def test_a_reinstall_changing_the_secret_must_be_newer_than_the_last_event(world: World) -> None:
    installation = await world.install()  # installed and enabled, both at this instant
    # Another token of the same instant (a different exp makes it another token) carrying a new secret.
    token = world.acme.install_token(
        installation,
        APP_BASE_URL + "/lifecycle/installed",
        exp=int(world.clock.timestamp()) + 59,
    )
    same_instant = with_token(with_secret(install_request(world.acme, installation), ATTACKER_SECRET), token)
    refused(await world.acme.send(same_instant), "lifecycle_out_of_order")
    assert secret_of(world, "acme-client-key") == installation.shared_secret
    # The same instant without a change is a harmless re-delivery: accepted.
    token = world.acme.install_token(
        installation, APP_BASE_URL + "/lifecycle/installed", exp=int(world.clock.timestamp()) + 58
    )
    assert (await world.acme.send(with_token(install_request(world.acme, installation), token))).status_code == 204
    # A second later, a rotation is accepted.
    world.tick()
    rotated = await world.install()
    assert secret_of(world, "acme-client-key") == rotated.shared_secret


async def test_a_replayed_disable_after_enable_is_refused(world: World) -> None:
    installation = await world.install()
    world.tick()
    disable = world.acme.lifecycle_request(installation, "disabled")
    assert (await world.acme.send(disable)).status_code == 204
    world.tick()
    await world.acme.enable("issue-mailer")
    refused(await world.acme.send(disable), "token_replayed")
    assert state(world) is TenantState.ENABLED


async def test_an_older_disable_never_follows_a_newer_enable(world: World) -> None:
    installation = await world.install()
    world.tick()
    undelivered = world.acme.lifecycle_request(installation, "disabled")
    world.tick()
    await world.acme.disable("issue-mailer")
    world.tick()
    await world.acme.enable("issue-mailer")
    refused(await world.acme.send(undelivered), "lifecycle_out_of_order")
    assert state(world) is TenantState.ENABLED


async def test_the_same_install_delivered_twice_at_once_is_accepted_once(world: World) -> None:
    installation = await world.acme.register(APP_BASE_URL + "/atlassian-connect.json")
    request = install_request(world.acme, installation)
    first, second = await asyncio.gather(world.acme.send(request), world.acme.send(request))
    assert sorted([first.status_code, second.status_code]) == [204, 401]
    assert {first.json()["error"] if first.status_code == 401 else second.json()["error"]} == {"token_replayed"}


async def test_a_replay_is_refused_by_another_instance_sharing_the_database(world: World, clock: FrozenClock) -> None:
    """The memory of used tokens is in the database: a second instance (a fresh runtime) refuses it too."""
    installation = await world.install()
    token = install_request(world.acme, installation).headers["authorization"].removeprefix("JWT ")
    other = Runtime.open(world.runtime.settings, clock=clock, engine=world.runtime.engine)
    assert not other.tenants.use_lifecycle_token(token, clock.timestamp() + 60)


# The registry's two rules, on both engines ----------------------------------------------------------------------


def _tenant(runtime: Runtime, client_key: str) -> str:
    return runtime.tenants.create(
        app_key="app", client_key=client_key, base_url="https://a.atlassian.net", product_type="jira"
    ).id


def test_a_token_is_used_once_and_expired_records_are_deleted(runtime: Runtime, clock: FrozenClock) -> None:
    tenants = runtime.tenants
    now = clock.timestamp()
    assert tenants.use_lifecycle_token("token-a", now + 90)
    assert not tenants.use_lifecycle_token("token-a", now + 90)
    assert tenants.use_lifecycle_token("token-b", now + 10)
    clock.advance(timedelta(seconds=60))
    assert tenants.use_lifecycle_token("token-c", clock.timestamp() + 90)  # deletes token-b's expired record
    with runtime.engine.connect() as connection:
        digests = set(connection.execute(select(lifecycle_tokens_table.c.digest)).scalars())
        assert connection.execute(select(func.count()).select_from(lifecycle_tokens_table)).scalar_one() == 2
    assert all(len(d) == 64 and "token" not in d for d in digests)  # digests, never tokens
    assert not tenants.use_lifecycle_token("token-a", now + 90)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(events=st.lists(st.tuples(st.integers(min_value=0, max_value=20), st.booleans()), min_size=1, max_size=12))
def test_accepted_lifecycle_events_never_go_back_in_time(runtime: Runtime, events: list[tuple[int, bool]]) -> None:
    tenant_id = _tenant(runtime, uuid.uuid4().hex)
    latest: float | None = None
    for issued_at, strictly in events:
        accepted = runtime.tenants.order_lifecycle_event(tenant_id, issued_at, strictly_newer=strictly)
        expected = latest is None or issued_at > latest or (not strictly and issued_at == latest)
        assert accepted == expected
        if accepted:
            latest = issued_at


@pytest.mark.parametrize("strictly", [False, True])
def test_the_first_event_of_a_tenant_is_always_in_order(runtime: Runtime, strictly: bool) -> None:
    assert runtime.tenants.order_lifecycle_event(_tenant(runtime, "ck"), 0.0, strictly_newer=strictly)
