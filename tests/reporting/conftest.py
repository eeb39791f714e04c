"""A test app that keeps Atlassian accountIds, served under Pledge's host, and two simulated Connect sites whose
personal data reporting API is one simulated Atlassian account directory; all wired in process by ASGI routing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy import Engine
from tests.connect.conftest import OriginRouter

from pledge.app import AccountEvent, App
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.egress import OutboundClient
from pledge.forge_config import ForgeConfig
from pledge.host import create_host
from pledge.jobs import JobRunner, RunRecord
from pledge.reporting import JOB_NAME, reporting_job
from pledge.runtime import Runtime
from pledge.sim import ConnectSim, InstallSigner, SimSite
from pledge.sim.account_reporting import AccountDirectory
from pledge.store import Category, Collection, DataManifest, Field, TenantStore
from pledge.tenants import Tenant

APP_ORIGIN = "http://127.0.0.1:8000"
DESCRIPTOR_URL = APP_ORIGIN + "/apps/follow-up/atlassian-connect.json"
SITE_A = "http://acme.sim.test"
SITE_B = "http://globex.sim.test"

MANIFEST = DataManifest(
    (
        Collection(
            "followers",
            "Who follows up on an issue",
            (
                Field("issue_key", Category.CONFIGURATION, "Which issue", indexed=True),
                Field("follower", Category.PERSONAL, "Who is reminded", account_id=True, indexed=True),
                Field("display_name", Category.PERSONAL, "Shown in the reminder"),
                Field("note", Category.CONTENT, "What to follow up on"),
            ),
        ),
        Collection(
            "digests",
            "Reminders sent to several people",
            (
                Field("recipients", Category.PERSONAL, "Who receives the digest", account_id=True),
                Field("subject", Category.CONTENT, "The digest's subject"),
            ),
        ),
    )
)


@dataclass
class Hooks:
    closed: list[tuple[str, str]] = field(default_factory=list)
    """(tenant id, accountId) of each closed-account call."""
    updated: list[tuple[str, str]] = field(default_factory=list)


def follow_up_app(hooks: Hooks, forge: ForgeConfig | None = None) -> App:
    app = App(key="follow-up", name="Follow up", data=MANIFEST, forge=forge)

    @app.on_account_closed
    async def closed(event: AccountEvent) -> None:
        hooks.closed.append((event.tenant.id, event.account_id))
        # Custom handling: a digest addressed to that person alone has no reader left.
        for digest in await event.store.list("digests"):
            if digest.get("recipients") == [event.account_id]:
                await event.store.delete("digests", digest.id)

    @app.on_account_updated
    async def updated(event: AccountEvent) -> None:
        hooks.updated.append((event.tenant.id, event.account_id))
        me = await event.product.get_json("/rest/api/3/myself")  # the app reads the product, as a refresh would
        for record in await event.store.list("followers", where={"follower": event.account_id}):
            await event.store.update("followers", record.id, {"display_name": f"refreshed by {me['accountType']}"})

    return app


@dataclass
class World:
    runtime: Runtime
    app: App
    hooks: Hooks
    accounts: AccountDirectory
    acme: ConnectSim
    globex: ConnectSim
    clock: FrozenClock
    waits: list[float]

    def store(self, tenant: Tenant) -> TenantStore:
        return self.runtime.store_for(self.app, tenant)

    def tenants(self) -> tuple[Tenant, Tenant]:
        by_key = {t.client_key: t for t in self.runtime.tenants.list(app_key=self.app.key)}
        return by_key[self.acme.client_key], by_key[self.globex.client_key]

    def runner(self) -> JobRunner:
        return JobRunner(self.runtime.engine, self.clock, [reporting_job(self.runtime, [self.app], sleep=self.sleep)])

    async def report(self) -> RunRecord:
        """Run the reporting job now, in a worker thread as `pledge serve` runs it."""
        return await anyio.to_thread.run_sync(self.runner().run_now, JOB_NAME)

    async def sleep(self, seconds: float) -> None:
        """What the job waits on 429 and 5xx: time passes on the frozen clock, nothing sleeps."""
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture(scope="session")
def signer() -> InstallSigner:
    return InstallSigner()


@pytest.fixture
async def world(
    tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock, signer: InstallSigner
) -> AsyncIterator[World]:
    router = OriginRouter()
    acme = ConnectSim(SimSite(SITE_A, clock), transport=router, client_key="acme-client-key", signer=signer)
    globex = ConnectSim(SimSite(SITE_B, clock), transport=router, client_key="globex-client-key", signer=signer)
    accounts = AccountDirectory(clock)
    for sim in (acme, globex):
        accounts.serve_on(sim.site)
        router.add(sim.site.base_url, sim.site.asgi())
    settings = load_settings(
        tenant_domains=("sim.test",),  # the simulated sites (*.sim.test) stand in for *.atlassian.net
        data_dir=tmp_path / "data",
        database_url=database_url,
        connect_install_keys_url=acme.install_keys_url,
    )
    runtime = Runtime.open(
        settings,
        clock=clock,
        engine=engine,
        egress=OutboundClient([settings.connect_install_keys_url], transport=router),
    )
    hooks = Hooks()
    app = follow_up_app(hooks)
    router.add(APP_ORIGIN, create_host(runtime, [app]))
    for sim in (acme, globex):
        await sim.install(DESCRIPTOR_URL)
    yield World(runtime, app, hooks, accounts, acme, globex, clock, [])
    runtime.close()
