"""Signed install and the lifecycle: what a tenant becomes, and what never changes it."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from pledge.tenants import TenantNotFound, TenantState
from tests.connect.conftest import APP_BASE_URL, DESCRIPTOR_URL, World


def refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == code, response.text


async def test_descriptor_opts_in_to_signed_install_context_qsh_and_gdpr(world: World) -> None:
    document = (await world.client.get(DESCRIPTOR_URL)).json()
    assert document["baseUrl"] == APP_BASE_URL
    assert document["apiMigrations"] == {"signed-install": True, "context-qsh": True, "gdpr": True}
    assert document["lifecycle"]["installed"] == "/lifecycle/installed"
    assert document["modules"]["webhooks"] == [{"event": "jira:issue_updated", "url": "/webhooks/jira-issue-updated"}]


async def test_install_creates_an_enabled_tenant_holding_only_its_identity(world: World) -> None:
    installation = await world.install()
    tenant = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    assert tenant.state is TenantState.ENABLED
    assert tenant.base_url == "http://acme.sim.test"
    assert tenant.installation_id == installation.installation_id
    assert world.runtime.tenants.shared_secret(tenant.id) == installation.shared_secret
    sent = world.acme.site.recorder.sent("/lifecycle/installed")[0]
    assert sent.status == 204
    header = jwt.get_unverified_header(sent.headers["authorization"].removeprefix("JWT "))
    assert header["alg"] == "RS256"
