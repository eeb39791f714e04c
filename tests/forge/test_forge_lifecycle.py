"""Lifecycle triggers, tenants, the license signal and the region pin, through the simulated Forge site."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from tests.forge.conftest import BASE

from pledge.forge.installations import forge_installations_table
from pledge.forge.lifecycle_events import INSTALLED_MODULE, UPGRADED_MODULE
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation
from pledge.tenants import TenantState, tenants_table
from pledge.tenants.timeline import DeletionCause, Event, scheduled_deletion

INSTALLED = f"{BASE}/forge/lifecycle/installed"


def _dump(runtime: Runtime) -> str:
    """Every value of every table, as text: what an operator holding the database could read."""
    with runtime.engine.connect() as connection:
        names = [row[0] for row in connection.execute(text(_TABLES[runtime.engine.dialect.name]))]
        return repr([list(connection.execute(text(f'SELECT * FROM "{name}"'))) for name in names])  # noqa: S608


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


async def test_a_trigger_delivered_five_times_creates_one_tenant_and_stores_no_installer(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = site.new_installation()
    payload = site.lifecycle_payload(installation, "avi:forge:installed:app")
    attempts = await site.deliver_trigger(
        INSTALLED, installation, payload, module_key=INSTALLED_MODULE.endpoint_key, redeliveries=4
    )
    assert [a.status for a in attempts] == [200] * 5
    assert [a.retry_context["retryCount"] if a.retry_context else 0 for a in attempts] == [0, 1, 2, 3, 4]
    (tenant,) = pledge.tenants.list()
    assert tenant.installation_id == installation.installation_id
    assert tenant.cloud_id == installation.cloud_id
    assert tenant.client_key is None and tenant.state is TenantState.INSTALLED
    assert tenant.region == "us-east-1"
    assert payload["installerAccountId"] not in _dump(pledge)


async def test_upgraded_is_idempotent_and_a_mismatched_event_is_refused(pledge: Runtime, site: ForgeSite) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    attempts = await site.upgrade(f"{BASE}/forge/lifecycle/upgraded", installation, redeliveries=2)
    assert [a.status for a in attempts] == [200, 200, 200]
    assert len(pledge.tenants.list()) == 1
    wrong = await site.deliver_trigger(
        f"{BASE}/forge/lifecycle/upgraded",
        installation,
        {"eventType": "avi:x:y:z"},
        module_key=UPGRADED_MODULE.endpoint_key,
    )
    assert [a.status for a in wrong] == [400] * 5  # Forge retries what fails: the remote must answer the same


async def test_pre_uninstall_starts_the_grace_and_the_tenant_is_no_longer_served(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    for _ in range(2):
        attempts = await site.pre_uninstall(f"{BASE}/forge/lifecycle/pre-uninstall", installation)
        assert [a.status for a in attempts] == [200]
    (tenant,) = pledge.tenants.list()
    assert tenant.state is TenantState.UNINSTALLED
    response = await site.invoke_remote(
        f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": "x"}, principal="u"
    )
    assert (response.status_code, response.json()["error"]) == (403, "tenant_inactive")
    await site.install(INSTALLED, installation)  # reinstalled within the grace
    assert pledge.tenants.get(tenant.id).state is TenantState.INSTALLED


async def test_an_inactive_license_starts_the_deletion_grace_and_an_active_one_ends_it(
    pledge: Runtime, site: ForgeSite, caplog: pytest.LogCaptureFixture
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    installation.license_active = False
    with caplog.at_level(logging.WARNING, "pledge.forge"):
        response = await site.invoke_remote(
            f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": "kept"}, principal="u"
        )
    assert response.status_code == 200  # no refusal: the licence is the product's to enforce
    with pledge.engine.connect() as connection:
        (row,) = connection.execute(select(forge_installations_table)).all()
    assert row.license_active is False
    assert "license inactive: the deletion grace starts" in caplog.text
    (tenant,) = pledge.tenants.list()
    assert tenant.is_active
    grace = timedelta(days=pledge.settings.deletion_grace_days)
    with pledge.engine.connect() as connection:
        deletion = scheduled_deletion(connection, tenant.id, grace)
    assert deletion is not None and deletion.cause is DeletionCause.LICENCE_ENDED

    installation.license_active = True
    response = await site.invoke_remote(
        f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": "ok"}, principal="u"
    )
    assert response.status_code == 200
    with pledge.engine.connect() as connection:
        assert scheduled_deletion(connection, tenant.id, grace) is None
    assert [step.event for step in pledge.tenants.timeline(tenant.id)][-2:] == [
        Event.LICENCE_ENDED,
        Event.LICENCE_ACTIVE,
    ]


async def test_a_connect_install_carrying_the_installation_id_is_the_same_tenant(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = site.new_installation()
    connect = pledge.tenants.create(
        app_key="forge-notes", client_key="connect-client", base_url=installation.site_url, product_type="jira"
    )
    pledge.tenants.update_identity(connect.id, installation_id=installation.installation_id)
    await site.install(INSTALLED, installation, redeliveries=1)
    (tenant,) = pledge.tenants.list()
    assert (tenant.id, tenant.client_key, tenant.installation_id) == (
        connect.id,
        "connect-client",
        installation.installation_id,
    )
    response = await site.invoke_remote(
        f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": "hi"}, principal="u"
    )
    assert response.status_code == 200


async def test_a_tenant_pinned_to_another_region_is_refused_with_the_reason(pledge: Runtime, site: ForgeSite) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    with pledge.engine.begin() as connection:
        connection.execute(tenants_table.update().values(region="eu-west-1"))
    response = await site.invoke_remote(
        f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": "x"}, principal="u"
    )
    assert response.status_code == 421
    assert response.json() == {
        "error": "pinned_elsewhere",
        "message": "this tenant's data is pinned to eu-west-1; this deployment serves us-east-1 (Forge realm US): "
        "call that region's remote",
    }
    attempts = await site.install(INSTALLED, installation)
    assert [a.status for a in attempts] == [421] * 5


async def test_the_sim_retries_a_failing_remote_with_retry_context(site: ForgeSite) -> None:
    seen: list[dict[str, Any]] = []

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        request = httpx.Request("POST", "http://x", content=(await receive())["body"])
        seen.append(__import__("json").loads(request.content))
        status = 500 if len(seen) < 3 else 200
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": b"{}"})

    site._transport = httpx.ASGITransport(flaky)
    attempts = await site.deliver_trigger("http://remote.test/e", Installation("i", "c", "s"), {"eventType": "e"})
    assert [a.status for a in attempts] == [500, 500, 200]
    assert [body.get("retryContext", {}).get("retryCount") for body in seen] == [None, 1, 2]
    assert seen[1]["retryContext"]["retryReason"] == "FUNCTION_ERROR"
