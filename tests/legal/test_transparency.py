"""Issue #18 item 4: a site's administrators see the legal requests about their own site (admin page, context JWT
JSON) and never another site's, nor one under a gag order, which the statement's transparency report still counts.
`pledge legal record/list` refuse bad input without repeating it. Real ASGI between simulated Jira sites and Pledge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from tests.connect.conftest import KEYS_SITE, SITE_A, SITE_B, OriginRouter

from pledge import schema
from pledge.app import App
from pledge.cli import cli
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.connect.descriptor import TRANSPARENCY_PAGE_KEY
from pledge.egress import OutboundClient
from pledge.host import create_host
from pledge.legal import TRANSPARENCY_JSON_PATH, LegalRequests
from pledge.runtime import Runtime
from pledge.sim import ConnectSim, InstallSigner, SimSite
from pledge.statement.facts import Deployment
from pledge.statement.pages import StatementPages

APP_ORIGIN = "http://127.0.0.1:8000"
reader = App(key="reader", name="Reader")


class Sites:
    def __init__(self, runtime: Runtime, acme: ConnectSim, globex: ConnectSim, client: httpx.AsyncClient) -> None:
        self.runtime, self.acme, self.globex, self.client = runtime, acme, globex, client

    def tenant_id(self, site: ConnectSim) -> str:
        return self.runtime.tenants.by_client_key("reader", site.installation("reader").client_key).id

    async def listed(self, site: ConnectSim) -> list[str]:
        headers = {"Authorization": f"JWT {site.context_token('reader')}"}
        answer = await self.client.get(TRANSPARENCY_JSON_PATH.lstrip("/"), headers=headers)
        assert answer.status_code == 200, answer.text
        return [record["reference"] for record in answer.json()["legal_requests"]]


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
    statement = StatementPages(Deployment.of(runtime, [reader]))
    await statement.publish()
    router.add(APP_ORIGIN, create_host(runtime, [reader], statement.routes()))
    router.add(SITE_A, acme.site.asgi())
    router.add(SITE_B, globex.site.asgi())
    async with httpx.AsyncClient(transport=router, base_url=f"{APP_ORIGIN}/apps/reader/") as client:
        for site in (acme, globex):
            await site.install(f"{APP_ORIGIN}/apps/reader/atlassian-connect.json")
            clock.advance(timedelta(seconds=1))
        yield Sites(runtime, acme, globex, client)
    runtime.close()


async def test_each_site_sees_its_own_ungagged_requests_and_the_report_counts_them_all(sites: Sites) -> None:
    register = LegalRequests(sites.runtime.engine, sites.runtime.clock)
    acme, globex = sites.tenant_id(sites.acme), sites.tenant_id(sites.globex)
    register.record(authority="District Court", reference="ACME-1", tenant_id=acme, scope="issue records", gag=False)
    register.record(authority="Agency", reference="ACME-GAG", tenant_id=acme, scope="mail log", gag=True)
    register.record(authority="District Court", reference="GLOBEX-1", tenant_id=globex, scope="rules", gag=False)

    assert await sites.listed(sites.acme) == ["ACME-1"]
    assert await sites.listed(sites.globex) == ["GLOBEX-1"]
    page = await sites.acme.load_page("reader", TRANSPARENCY_PAGE_KEY)
    assert page.status_code == 200 and "ACME-1" in page.text
    assert "ACME-GAG" not in page.text and "GLOBEX-1" not in page.text

    unsigned = await sites.client.get(TRANSPARENCY_JSON_PATH.lstrip("/"))
    assert unsigned.status_code == 401 and "ACME" not in unsigned.text

    report = await sites.client.get(f"{APP_ORIGIN}/privacy.json")
    assert report.json()["transparency_report"] == [{"year": 2026, "requests": 3, "gagged": 1}]
    page = await sites.client.get(f"{APP_ORIGIN}/privacy")
    assert "Transparency report" in page.text and "ACME" not in page.text


def test_the_cli_records_lists_and_refuses_without_echoing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    site = runtime.tenants.create(
        app_key="mailer", client_key="ck-1", base_url="https://acme.atlassian.net", product_type="jira"
    )
    runtime.close()
    runner = CliRunner()
    base = ["legal", "record", "--authority", "District Court", "--tenant", site.id, "--scope", "issue records"]
    told = runner.invoke(cli, [*base, "--reference", "R-1"])
    assert told.exit_code == 0, told.output
    assert told.stdout == f"legal request 1 recorded for tenant {site.id}: shown to the site in its transparency page\n"
    gagged = runner.invoke(cli, [*base, "--reference", "R-2", "--gag"])
    assert gagged.exit_code == 0 and "not shown to the site" in gagged.stdout

    secret = "sealed-order-4711 ssn 078-05-1120"
    refused = runner.invoke(cli, [*base, "--reference", secret])
    assert refused.exit_code == 1 and refused.stderr.startswith("pledge: --reference must be")
    assert secret not in refused.output and "4711" not in refused.output

    listed = runner.invoke(cli, ["legal", "list", "--json"])
    assert [(row["reference"], row["gag"]) for row in map(json.loads, listed.stdout.splitlines())] == [
        ("R-1", False),
        ("R-2", True),
    ]
    table = runner.invoke(cli, ["legal", "list"])
    assert table.stdout.splitlines()[-1].endswith("2 requests (1 under a gag order)")
