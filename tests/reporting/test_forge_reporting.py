"""A Forge tenant reports with the app token Forge last sent, to Atlassian's API host (S2, S13)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio.to_thread
import httpx
from sqlalchemy import Engine
from tests.reporting.conftest import Hooks, follow_up_app

from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.egress import OutboundClient
from pledge.forge.api_client import Token
from pledge.forge.requests import held_app_tokens
from pledge.forge_config import ForgeConfig
from pledge.jobs import JobRunner
from pledge.reporting import JOB_NAME, reporting_job
from pledge.reporting.tables import CycleOutcome, latest_cycle
from pledge.runtime import Runtime
from pledge.sim.account_reporting import AccountDirectory
from pledge.sim.forge_site import ForgeSite

BOB = "5b10ac8d82e05b22cc7d4ef5"


async def test_a_forge_tenant_reports_with_the_held_app_token(
    tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock
) -> None:
    forge = ForgeSite(clock=clock)
    accounts = AccountDirectory(clock)
    accounts.serve_on(forge.site)
    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url, atlassian_api_url=forge.base_url)
    egress = OutboundClient([settings.atlassian_api_url], transport=httpx.ASGITransport(forge.asgi))
    runtime = Runtime.open(settings, clock=clock, engine=engine, egress=egress)
    hooks = Hooks()
    app = follow_up_app(hooks, ForgeConfig(app_id=forge.app_id))
    installation = forge.new_installation()
    tenant = runtime.tenants.create(
        app_key=app.key,
        base_url=installation.site_url,
        product_type="jira",
        installation_id=installation.installation_id,
        cloud_id=installation.cloud_id,
    )
    record = runtime.store_for(app, tenant).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    accounts.close(BOB)
    runner = JobRunner(engine, clock, [reporting_job(runtime, [app])])

    await anyio.to_thread.run_sync(runner.run_now, JOB_NAME)  # Forge has sent no app token yet
    cycle = latest_cycle(engine, [tenant.id])
    assert cycle is not None and cycle.outcome is CycleOutcome.FAILED and "no live Forge app token" in str(cycle.error)

    held_app_tokens(runtime, app).offer(
        tenant.id,
        Token(forge.app_token(installation), clock.now() + timedelta(hours=1)),
        forge.api_base_url(installation),
    )
    await anyio.to_thread.run_sync(runner.run_now, JOB_NAME)

    (report,) = [e for e in forge.site.recorder.received("/app/report-accounts/") if e.status == 200]
    assert forge.credential(report.headers) == "app token"
    assert hooks.closed == [(tenant.id, BOB)]
    assert runtime.store_for(app, tenant).get("followers", record.id)["follower"] is None
    runtime.close()
