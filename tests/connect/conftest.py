"""An in-process world: the reference app under Pledge's host and simulated Atlassian sites, wired by ASGI routing.

Every HTTP exchange is real ASGI (no mocks of Pledge's parts): the app fetches install keys from the simulated key
server and calls the simulated Jira through its egress client, whose transport routes by origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from examples.issue_mailer.app import app as issue_mailer
from sqlalchemy import Engine
from starlette.types import ASGIApp

from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim import ConnectSim, Installation, InstallSigner, SimSite

APP_ORIGIN = "http://127.0.0.1:8000"
APP_BASE_URL = APP_ORIGIN + "/apps/issue-mailer"
DESCRIPTOR_URL = APP_BASE_URL + "/atlassian-connect.json"
SITE_A = "http://acme.sim.test"
SITE_B = "http://globex.sim.test"
KEYS_SITE = SITE_A  # the install-keys server every simulated site signs with lives on site A


class OriginRouter(httpx.AsyncBaseTransport):
    """Sends each request to the ASGI app serving its origin; an unknown origin cannot be connected to."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def add(self, origin: str, app: ASGIApp) -> None:
        self.apps[origin] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        transport = self.apps.get(origin)
        if transport is None:
            raise httpx.ConnectError(f"nothing listens at {origin}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class World:
    runtime: Runtime
    router: OriginRouter
    acme: ConnectSim
    globex: ConnectSim
    client: httpx.AsyncClient
    clock: FrozenClock
    sites: dict[str, ConnectSim] = field(default_factory=dict)

    def tick(self, seconds: float = 1) -> None:
        """Let time pass between two lifecycle events: each token is accepted once, and in order of issue."""
        self.clock.advance(timedelta(seconds=seconds))

    async def install(self, sim: ConnectSim | None = None) -> Installation:
        return await (sim or self.acme).install(DESCRIPTOR_URL)


@pytest.fixture(scope="session")
def signer() -> InstallSigner:
    """Atlassian's install key: one RSA key for the session, since generating one is slow."""
    return InstallSigner()


@pytest.fixture
async def world(
    tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock, signer: InstallSigner
) -> AsyncIterator[World]:
    router = OriginRouter()
    acme = ConnectSim(SimSite(SITE_A, clock), transport=router, client_key="acme-client-key", signer=signer)
    # A second, independent site; it signs installs with the one key server the app trusts (site A's key).
    globex = ConnectSim(SimSite(SITE_B, clock), transport=router, client_key="globex-client-key", signer=acme.signer)
    settings = load_settings(
        tenant_domains=("sim.test",),  # the simulated sites (*.sim.test) stand in for *.atlassian.net
        data_dir=tmp_path / "data",
        database_url=database_url,
        connect_install_keys_url=acme.install_keys_url,
    )
    egress = OutboundClient([settings.connect_install_keys_url], transport=router)
    runtime = Runtime.open(settings, clock=clock, engine=engine, egress=egress)
    router.add(APP_ORIGIN, create_host(runtime, [issue_mailer]))
    router.add(SITE_A, acme.site.asgi())
    router.add(SITE_B, globex.site.asgi())
    async with httpx.AsyncClient(transport=router, base_url=APP_BASE_URL) as client:
        yield World(runtime, router, acme, globex, client, clock)
    runtime.close()
