"""A FIT is accepted once by the whole deployment: captured on its way to one instance, it is refused by another."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from examples.forge_notes.app import app
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from tests.forge.conftest import BASE

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.db import open_engine
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.jobs import JobRunner
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation
from pledge.trust.fit_uses import FORGE_TOKEN_USES_SWEEP, forge_token_uses_table


@contextmanager
def _instance(settings: Settings, engine: Engine, clock: FrozenClock, site: ForgeSite) -> Iterator[Starlette]:
    """Another instance of the deployment: its own runtime (caches, replay memory) on ``engine``."""
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    runtime.egress = OutboundClient([settings.forge_jwks_url], transport=httpx.ASGITransport(site.asgi))
    yield create_host(runtime, [app])
    runtime.close()


@pytest.fixture
def other_instance(settings: Settings, engine: Engine, clock: FrozenClock, site: ForgeSite) -> Iterator[Starlette]:
    """A second instance on the same database."""
    with _instance(settings, engine, clock, site) as host:
        yield host


async def _status(host: httpx.AsyncBaseTransport | Starlette, token: str) -> tuple[int, str | None]:
    transport = host if isinstance(host, httpx.AsyncBaseTransport) else httpx.ASGITransport(host)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"{BASE}/notes", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json().get("error")


async def _installed(site: ForgeSite) -> tuple[httpx.AsyncBaseTransport, Installation]:
    """A new installation, installed through the first instance; that instance (the one the site calls)."""
    first = site._transport
    assert first is not None
    installation = site.new_installation()
    assert [a.status for a in await site.install(f"{BASE}/forge/lifecycle/installed", installation)] == [200]
    return first, installation


async def test_a_fit_replayed_to_another_instance_is_refused_either_way(
    pledge: Runtime, site: ForgeSite, other_instance: Starlette
) -> None:
    first, installation = await _installed(site)

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
    first, installation = await _installed(site)
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


async def test_one_fit_sent_at_once_to_two_instances_is_accepted_once(
    pledge: Runtime, site: ForgeSite, other_instance: Starlette
) -> None:
    first, installation = await _installed(site)
    token = site.mint_fit(installation)
    answers = await asyncio.gather(*(_status(host, token) for host in (first, other_instance) * 3))
    assert sorted(answers, key=str) == [(200, None)] + [(401, "token_replayed")] * 5


@pytest.fixture
def unreachable_instance(settings: Settings, clock: FrozenClock, site: ForgeSite) -> Iterator[Starlette]:
    """An instance whose database cannot be reached (nobody listens on its PostgreSQL port)."""
    engine = open_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    with _instance(settings, engine, clock, site) as host:
        yield host
    engine.dispose()


async def test_a_fit_whose_use_cannot_be_recorded_is_refused_and_stays_unused(
    pledge: Runtime, site: ForgeSite, unreachable_instance: Starlette
) -> None:
    first, installation = await _installed(site)
    token = site.mint_fit(installation)
    assert await _status(unreachable_instance, token) == (503, "storage_unavailable")
    # Resent to the same instance: still unrecorded, so the same answer, not a replay its own memory would claim.
    assert await _status(unreachable_instance, token) == (503, "storage_unavailable")
    assert await _status(first, token) == (200, None)  # it was never accepted: the deployment may still take it
