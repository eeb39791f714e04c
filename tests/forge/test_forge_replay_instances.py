"""A FIT is accepted once by the whole deployment: captured on its way to one instance, it is refused by another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from examples.forge_notes.app import app
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from tests.forge.conftest import BASE

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.jobs import JobRunner
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation
from pledge.trust.fit_uses import FORGE_TOKEN_USES_SWEEP, forge_token_uses_table


@pytest.fixture
def other_instance(settings: Settings, engine: Engine, clock: FrozenClock, site: ForgeSite) -> Iterator[Starlette]:
    """A second instance of the deployment: its own runtime (caches, replay memory) on the same database."""
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    runtime.egress = OutboundClient([settings.forge_jwks_url], transport=httpx.ASGITransport(site.asgi))
    yield create_host(runtime, [app])
    runtime.close()


async def _status(host: httpx.AsyncBaseTransport | Starlette, token: str) -> tuple[int, str | None]:
    transport = host if isinstance(host, httpx.AsyncBaseTransport) else httpx.ASGITransport(host)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("error")


async def _installed(site: ForgeSite) -> Installation:
    installation = site.new_installation()
    assert [a.status for a in await site.install(f"{BASE}/forge/lifecycle/installed", installation)] == [200]
    return installation


async def test_a_fit_replayed_to_another_instance_is_refused_either_way(
    pledge: Runtime, site: ForgeSite, other_instance: Starlette
) -> None:
    first = site._transport
    assert first is not None
    installation = await _installed(site)

    token = site.mint_fit(installation)
    assert await _status(first, token) == (200, None)
    assert await _status(other_instance, token) == (401, "token_replayed")

    token = site.mint_fit(installation)
    assert await _status(other_instance, token) == (200, None)
    assert await _status(first, token) == (401, "token_replayed")
    assert await _status(other_instance, token) == (401, "token_replayed")  # its own memory, before the database's


async def test_the_sweep_deletes_only_the_digests_of_expired_tokens(
    pledge: Runtime, site: ForgeSite, clock: FrozenClock
) -> None:
    first = site._transport
    assert first is not None
    installation = await _installed(site)
    assert await _status(first, site.mint_fit(installation)) == (200, None)
    clock.advance(timedelta(minutes=1))  # the first token (and the install trigger's) expired
    assert await _status(first, site.mint_fit(installation)) == (200, None)

    def held() -> int:
        with pledge.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(forge_token_uses_table)).scalar_one())

    assert held() == 3
    runner = JobRunner(pledge.engine, clock, [FORGE_TOKEN_USES_SWEEP])
    runner.run_now(FORGE_TOKEN_USES_SWEEP.name)
    assert held() == 1
