"""Issue #17 item 5: a site's administrator asks for immediate deletion from the app, in two steps; the second step
needs the first one's token, of the same site, within ten minutes. From then on the site's requests are refused and
the next purge deletes it. Real ASGI between a simulated Jira site and Pledge's host (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from starlette.responses import JSONResponse
from tests.connect.conftest import KEYS_SITE, SITE_A, SITE_B, OriginRouter

from pledge.app import App, Auth, RequestContext
from pledge.cli.jobs import purger
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB
from pledge.runtime import Runtime
from pledge.sim import ConnectSim, InstallSigner, SimSite
from pledge.tenants import TenantNotFound, TenantState
from pledge.tenants.shred_ledger import ShredCause, ledger

APP_ORIGIN = "http://127.0.0.1:8000"
wiper = App(key="wiper", name="Wiper")


@wiper.route("/admin/deletion", auth=Auth.CONNECT_CONTEXT)
async def confirm_step(context: RequestContext) -> JSONResponse:
    # A real app answers only the site's administrators here (docs/retention.md, "Deletion on request").
    return JSONResponse({"confirm": await context.deletion_confirmation()})


@wiper.route("/admin/deletion", methods=["POST"], auth=Auth.CONNECT_CONTEXT)
async def delete_step(context: RequestContext) -> None:
    body = await context.json()
    await context.request_deletion(confirm=body.get("confirm") if isinstance(body, dict) else None)


class Sites:
    def __init__(self, runtime: Runtime, acme: ConnectSim, globex: ConnectSim, client: httpx.AsyncClient) -> None:
        self.runtime, self.acme, self.globex, self.client = runtime, acme, globex, client

    async def call(self, site: ConnectSim, method: str, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"JWT {site.context_token('wiper')}"}
        return await self.client.request(method, "admin/deletion", json=body, headers=headers)


@pytest.fixture
async def sites(tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock) -> AsyncIterator[Sites]:
    router = OriginRouter()
    signer = InstallSigner()
    acme = ConnectSim(SimSite(SITE_A, clock), transport=router, client_key="acme-client-key", signer=signer)
    globex = ConnectSim(SimSite(SITE_B, clock), transport=router, client_key="globex-client-key", signer=signer)
    settings = load_settings(
        tenant_domains=("sim.test",),  # the simulated sites (*.sim.test) stand in for *.atlassian.net
        data_dir=tmp_path / "data",
        database_url=database_url,
        connect_install_keys_url=acme.install_keys_url,
    )
    assert KEYS_SITE == SITE_A
    runtime = Runtime.open(
        settings,
        clock=clock,
        engine=engine,
        egress=OutboundClient([settings.connect_install_keys_url], transport=router),
    )
    router.add(APP_ORIGIN, create_host(runtime, [wiper]))
    router.add(SITE_A, acme.site.asgi())
    router.add(SITE_B, globex.site.asgi())
    async with httpx.AsyncClient(transport=router, base_url=f"{APP_ORIGIN}/apps/wiper/") as client:
        for site in (acme, globex):
            await site.install(f"{APP_ORIGIN}/apps/wiper/atlassian-connect.json")
            clock.advance(timedelta(seconds=1))
        yield Sites(runtime, acme, globex, client)
    runtime.close()


def _refused(response: httpx.Response, code: str, status: int) -> None:
    assert (response.status_code, response.json()["error"]) == (status, code), response.text


async def test_a_confirmed_request_deletes_the_site_and_nothing_else(sites: Sites, clock: FrozenClock) -> None:
    runtime = sites.runtime
    acme = runtime.tenants.by_client_key("wiper", "acme-client-key")
    globex = runtime.tenants.by_client_key("wiper", "globex-client-key")

    _refused(await sites.call(sites.acme, "POST", {}), "deletion_unconfirmed", 403)
    _refused(await sites.call(sites.acme, "POST", {"confirm": "1.abc"}), "deletion_unconfirmed", 403)
    foreign = (await sites.call(sites.globex, "GET")).json()["confirm"]
    _refused(await sites.call(sites.acme, "POST", {"confirm": foreign}), "deletion_unconfirmed", 403)
    stale = (await sites.call(sites.acme, "GET")).json()["confirm"]
    clock.advance(timedelta(minutes=11))
    _refused(await sites.call(sites.acme, "POST", {"confirm": stale}), "deletion_unconfirmed", 403)
    assert runtime.tenants.get(acme.id).is_active  # nothing happened

    confirm = (await sites.call(sites.acme, "GET")).json()["confirm"]
    clock.advance(timedelta(minutes=9))
    assert (await sites.call(sites.acme, "POST", {"confirm": confirm})).status_code == 204
    assert runtime.tenants.get(acme.id).state is TenantState.DELETING
    _refused(await sites.call(sites.acme, "GET"), "tenant_inactive", 401)  # refused from now on
    assert (await sites.call(sites.globex, "GET")).status_code == 200
    installation = await sites.acme.register(f"{APP_ORIGIN}/apps/wiper/atlassian-connect.json")
    clock.advance(timedelta(seconds=1))
    reinstall = await sites.acme.send(sites.acme.lifecycle_request(installation, "installed"))
    _refused(reinstall, "tenant_state_conflict", 409)  # not taken back by a re-install

    JobRunner(runtime.engine, runtime.clock, [purger(runtime).job()]).run_now(PURGE_JOB)
    with pytest.raises(TenantNotFound):
        runtime.tenants.get(acme.id)
    with runtime.engine.connect() as connection:
        assert [(entry.tenant_id, entry.cause) for entry in ledger(connection)] == [(acme.id, ShredCause.REQUEST)]
    assert runtime.tenants.get(globex.id).is_active
