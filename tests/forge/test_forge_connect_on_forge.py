"""Connect on Forge: one site known by its Connect clientKey and its Forge installationId is one tenant, whichever
install arrives first, and both protocols' calls reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from examples.forge_notes.app import APP_ID, app
from sqlalchemy import Engine
from tests.connect.conftest import OriginRouter

from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim import ConnectSim, InstallSigner, SimSite
from pledge.sim.forge_site import ForgeSite

APP_ORIGIN = "http://127.0.0.1:8000"
APP_URL = APP_ORIGIN + "/apps/forge-notes"


@dataclass
class Both:
    runtime: Runtime
    forge: ForgeSite
    connect: ConnectSim


@pytest.fixture
async def both(tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock) -> AsyncIterator[Both]:
    router = OriginRouter()
    site = SimSite("http://site.sim.test", clock)
    forge = ForgeSite(APP_ID, clock=clock, site=site, transport=router)
    connect = ConnectSim(site, transport=router, client_key="connect-client", signer=InstallSigner())
    settings = load_settings(
        tenant_domains=("sim.test",),  # the simulated sites (*.sim.test) stand in for *.atlassian.net
        data_dir=tmp_path / "data",
        database_url=database_url,
        connect_install_keys_url=connect.install_keys_url,
        forge_jwks_url=forge.jwks_url,
        atlassian_api_url=site.base_url,
    )
    egress = OutboundClient([site.base_url], transport=router)
    runtime = Runtime.open(settings, clock=clock, engine=engine, egress=egress)
    router.add(APP_ORIGIN, create_host(runtime, [app]))
    router.add(site.base_url, forge.asgi)
    yield Both(runtime, forge, connect)
    runtime.close()


async def _connect_install(both: Both, installation_id: str) -> None:
    installation = await both.connect.register(APP_URL + "/atlassian-connect.json")
    installation.installation_id = installation_id  # the same site, as Connect on Forge reports it
    response = await both.connect.send(both.connect.lifecycle_request(installation, "installed"))
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("forge_first", [True, False], ids=["forge-first", "connect-first"])
async def test_one_tenant_whichever_install_arrives_first(both: Both, forge_first: bool) -> None:
    installation = both.forge.new_installation()
    installed = f"{APP_URL}/forge/lifecycle/installed"
    if forge_first:
        assert [a.status for a in await both.forge.install(installed, installation)] == [200]
        await _connect_install(both, installation.installation_id)
    else:
        await _connect_install(both, installation.installation_id)
        assert [a.status for a in await both.forge.install(installed, installation)] == [200]
    (tenant,) = both.runtime.tenants.list()
    assert (tenant.client_key, tenant.installation_id) == ("connect-client", installation.installation_id)
    assert both.runtime.tenants.shared_secret(tenant.id)  # the Connect side is complete: it can verify JWTs
    note = {"issueKey": "SIM-1", "text": "one tenant"}
    assert (await both.forge.invoke_remote(f"{APP_URL}/notes", installation, note, principal="u")).status_code == 200
    notes = await both.forge.invoke_remote(f"{APP_URL}/notes", installation, method="GET", principal="u")
    assert notes.json() == {"notes": [note]}
