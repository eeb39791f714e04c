"""Forge fixtures: a simulated Forge site and a Pledge host serving the example Forge app, in one event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from examples.forge_notes.app import APP_ID, app

from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite

BASE = "http://pledge.test/apps/forge-notes"


@pytest.fixture
def site(clock: FrozenClock) -> ForgeSite:
    return ForgeSite(APP_ID, clock=clock)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, site: ForgeSite) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        forge_jwks_url=site.jwks_url,
        atlassian_api_url=site.base_url,
    )


@pytest.fixture
async def pledge(runtime: Runtime, site: ForgeSite) -> AsyncIterator[Runtime]:
    """The runtime, its egress reaching the simulated site and the site reaching the Pledge host, in process."""
    settings = runtime.settings
    runtime.egress = OutboundClient(
        [settings.forge_jwks_url, settings.atlassian_api_url], transport=httpx.ASGITransport(site.asgi)
    )
    site._transport = httpx.ASGITransport(create_host(runtime, [app]))
    yield runtime
    await runtime.egress.aclose()
