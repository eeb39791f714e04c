"""Issue #18 item 4, on Forge: a Forge Remote call (a FIT) gets its own installation's legal requests, without those
under a gag order and without any other installation's; a call without a FIT gets a 401 and nothing else."""

from __future__ import annotations

import httpx
from tests.forge.conftest import BASE

from pledge.legal import TRANSPARENCY_JSON_PATH, LegalRequests
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite

INSTALLED = f"{BASE}/forge/lifecycle/installed"
PRINCIPAL = "557058:f0f0f0f0-0000-4000-8000-000000000001"


async def test_a_forge_installation_sees_its_own_ungagged_legal_requests(pledge: Runtime, site: ForgeSite) -> None:
    mine, theirs = site.new_installation(), site.new_installation()
    for installation in (mine, theirs):
        await site.install(INSTALLED, installation)
    register = LegalRequests(pledge.engine, pledge.clock)
    for installation, reference, gag in ((mine, "MINE-1", False), (mine, "MINE-GAG", True), (theirs, "THEIRS", False)):
        tenant = pledge.tenants.by_installation_id("forge-notes", installation.installation_id)
        register.record(authority="Court", reference=reference, tenant_id=tenant.id, scope="notes", gag=gag)

    url = BASE + TRANSPARENCY_JSON_PATH
    answer = await site.invoke_remote(url, mine, method="GET", principal=PRINCIPAL)
    assert answer.status_code == 200, answer.text
    assert [record["reference"] for record in answer.json()["legal_requests"]] == ["MINE-1"]

    transport = site._transport
    assert transport is not None
    async with httpx.AsyncClient(transport=transport) as client:
        unsigned = await client.get(url)
    assert unsigned.status_code == 401 and "MINE" not in unsigned.text
