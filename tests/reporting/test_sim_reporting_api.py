"""`pledge sim`'s personal data reporting API answers as Atlassian's does: auth checked like its other REST calls,
the real status codes and headers, and behaviour set through its control API and CLI (S2, S11)."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner
from tests.reporting.conftest import World

from pledge.cli import cli
from pledge.clock import FrozenClock, SystemClock
from pledge.connect import ProductClient
from pledge.reporting.atlassian_api import CONNECT_REPORT_PATH
from pledge.sim.account_reporting import AccountDirectory
from pledge.sim.forge_site import ForgeSite
from pledge.sim.loopback import serve_on_loopback
from pledge.sim.server import build_simulator

BOB = "5b10ac8d82e05b22cc7d4ef5"
STAMP = "2026-11-27T09:00:00.000Z"


def app_client(world: World) -> ProductClient:
    acme, _ = world.tenants()
    secret = world.acme.installation("follow-up").shared_secret
    return ProductClient(acme, secret, world.runtime.egress, world.clock, max_attempts=1)


def body(*ids: str) -> dict[str, object]:
    return {"accounts": [{"accountId": i, "updatedAt": STAMP} for i in ids]}


async def test_answers_204_with_the_cycle_period_when_nothing_needs_action(world: World) -> None:
    response = await app_client(world).request("POST", CONNECT_REPORT_PATH, json=body(BOB))
    assert response.status_code == 204 and response.content == b""
    assert response.headers["cycle-period"] == "7"


async def test_answers_200_with_each_account_that_needs_action(world: World) -> None:
    world.accounts.close(BOB)
    world.accounts.cycle_period_days = 14
    response = await app_client(world).request("POST", CONNECT_REPORT_PATH, json=body(BOB, "557058:other"))
    assert response.status_code == 200 and response.headers["cycle-period"] == "14"
    assert response.json() == {"accounts": [{"accountId": BOB, "status": "closed"}]}


@pytest.mark.parametrize(
    "document",
    [
        body(*(f"557058:{n}" for n in range(91))),  # more than 90
        {"accounts": []},
        body("unknown"),
        {"accounts": [{"accountId": BOB, "updatedAt": "yesterday"}]},
        {"accounts": [{"accountId": "a b", "updatedAt": STAMP}]},
        ["not", "an", "object"],
    ],
)
async def test_refuses_a_malformed_report_with_400(world: World, document: object) -> None:
    response = await app_client(world).request("POST", CONNECT_REPORT_PATH, json=document)
    assert response.status_code == 400


async def test_refuses_a_report_without_a_valid_connect_jwt(world: World) -> None:
    url = world.acme.site.base_url + CONNECT_REPORT_PATH
    unsigned = await world.runtime.egress.request("POST", url, json=body(BOB), also_allow=[url])
    assert unsigned.status_code == 401
    client = app_client(world)
    # A token signed for another request: its QSH does not match this one.
    token = client.token("POST", world.acme.site.base_url + "/rest/api/3/myself")
    forged = await world.runtime.egress.request(
        "POST", url, json=body(BOB), headers={"Authorization": f"JWT {token}"}, also_allow=[url]
    )
    assert forged.status_code == 401 and "qsh" in forged.json()["reason"]
    assert world.accounts.reports == 0


async def test_429_carries_retry_after_and_503_when_told_to_fail(world: World) -> None:
    world.accounts.throttle, world.accounts.retry_after_seconds, world.accounts.fail = 1, 9, 1
    client = app_client(world)
    throttled = await client.request("POST", CONNECT_REPORT_PATH, json=body(BOB))
    failed = await client.request("POST", CONNECT_REPORT_PATH, json=body(BOB))
    answered = await client.request("POST", CONNECT_REPORT_PATH, json=body(BOB))
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "9")
    assert (failed.status_code, answered.status_code) == (503, 204)


async def test_the_forge_api_takes_an_app_token_only(clock: FrozenClock) -> None:
    forge = ForgeSite(clock=clock)
    accounts = AccountDirectory(clock)
    accounts.serve_on(forge.site)
    accounts.close(BOB)
    installation = forge.new_installation()
    url = forge.base_url + "/app/report-accounts/"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(forge.asgi)) as client:
        as_app = await client.post(
            url, json=body(BOB), headers={"authorization": f"Bearer {forge.app_token(installation)}"}
        )
        user_token = forge.user_token(installation, BOB)
        as_user = await client.post(url, json=body(BOB), headers={"authorization": f"Bearer {user_token}"})
        anonymous = await client.post(url, json=body(BOB))
    assert as_app.status_code == 200 and as_app.json()["accounts"] == [{"accountId": BOB, "status": "closed"}]
    assert (as_user.status_code, anonymous.status_code) == (401, 401)


def test_the_cli_closes_and_updates_accounts_and_sets_the_apis_behaviour() -> None:
    holder: dict[str, AccountDirectory] = {}

    def make(url: str) -> object:
        simulator = build_simulator(url, SystemClock())
        holder["accounts"] = simulator.accounts
        return simulator.site.asgi()

    with serve_on_loopback(make) as url:  # type: ignore[arg-type]
        runner = CliRunner()
        closed = runner.invoke(cli, ["sim", "account", "close", BOB, "--sim", url])
        updated = runner.invoke(cli, ["sim", "account", "update", "557058:carol", "--sim", url])
        refused = runner.invoke(cli, ["sim", "account", "close", "unknown", "--sim", url])
        behaviour = runner.invoke(
            cli, ["sim", "reporting", "--throttle", "2", "--retry-after", "5", "--cycle-period", "3", "--sim", url]
        )
    assert closed.exit_code == 0 and "closed" in closed.output
    assert updated.exit_code == 0
    assert refused.exit_code == 1 and "an accountId is 1 to 128" in refused.output
    assert behaviour.exit_code == 0
    assert behaviour.output == "closed=1 updated=1 cyclePeriod=3 throttle=2 retryAfter=5 fail=0 reports=0\n"
    accounts = holder["accounts"]
    assert accounts.closed == {BOB} and set(accounts.updated) == {"557058:carol"}
    assert (accounts.throttle, accounts.retry_after_seconds, accounts.cycle_period_days) == (2, 5, 3)
