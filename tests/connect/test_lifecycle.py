"""Signed install and the lifecycle: what a tenant becomes, and what never changes it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import jwt
import pytest
from tests.connect.conftest import APP_BASE_URL, DESCRIPTOR_URL, World

from pledge.sim import ConnectSim, Installation
from pledge.tenants import TenantState


def refused(response: httpx.Response, code: str, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text


def with_token(request: httpx.Request, token: str) -> httpx.Request:
    headers = {k: v for k, v in request.headers.items() if k != "authorization"} | {"authorization": f"JWT {token}"}
    return httpx.Request(request.method, request.url, headers=headers, content=request.content)


def with_body(request: httpx.Request, body: dict[str, Any]) -> httpx.Request:
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, content=json.dumps(body).encode())


def install_request(sim: ConnectSim, installation: Installation) -> httpx.Request:
    return sim.lifecycle_request(installation, "installed")


def installed_url() -> str:
    return APP_BASE_URL + "/lifecycle/installed"


def secret_of(world: World, client_key: str) -> str:
    tenant = world.runtime.tenants.by_client_key("issue-mailer", client_key)
    return world.runtime.tenants.shared_secret(tenant.id)


async def test_descriptor_opts_in_to_signed_install_context_qsh_and_gdpr(world: World) -> None:
    document = (await world.client.get(DESCRIPTOR_URL)).json()
    assert document["baseUrl"] == APP_BASE_URL
    assert document["authentication"] == {"type": "jwt"}
    assert document["apiMigrations"] == {"signed-install": True, "context-qsh": True, "gdpr": True}
    assert document["lifecycle"]["installed"] == "/lifecycle/installed"
    assert document["modules"]["webhooks"] == [{"event": "jira:issue_updated", "url": "/webhooks/jira-issue-updated"}]
    glance = document["modules"]["jiraIssueGlances"][0]
    assert glance["target"]["url"] == "/pages/email-issue?issueKey={issue.key}&projectKey={project.key}"
    assert (await world.client.get(glance["icon"]["url"].lstrip("/"))).status_code == 200


async def test_install_creates_an_enabled_tenant_holding_only_its_identity(world: World) -> None:
    installation = await world.install()
    tenant = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    assert tenant.state is TenantState.ENABLED
    assert tenant.base_url == "http://acme.sim.test"
    assert tenant.installation_id == installation.installation_id
    assert secret_of(world, "acme-client-key") == installation.shared_secret
    sent = world.acme.site.recorder.sent("/lifecycle/installed")[0]
    assert sent.status == 204
    token = sent.headers["authorization"].removeprefix("JWT ")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 60
    # The key was fetched once, by kid, from the install-keys server.
    assert [e.url for e in world.acme.site.recorder.received("/connect-install-keys/")] == [
        world.acme.install_keys_url + "/" + world.acme.signer.kid
    ]


async def test_reinstall_rotates_the_secret_and_follows_a_site_rename(world: World) -> None:
    first = await world.install()
    world.acme.site.base_url = "http://acme-renamed.sim.test"
    world.tick()
    second = await world.install()
    assert second.shared_secret != first.shared_secret
    tenant = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    assert tenant.base_url == "http://acme-renamed.sim.test"
    assert tenant.state is TenantState.ENABLED
    assert secret_of(world, "acme-client-key") == second.shared_secret
    assert len(world.runtime.tenants.list(app_key="issue-mailer")) == 1


async def test_a_site_import_arrives_as_a_new_client_key_and_becomes_a_new_tenant(world: World) -> None:
    await world.install()
    await world.install(world.globex)
    tenants = world.runtime.tenants.list(app_key="issue-mailer")
    assert sorted(t.client_key or "" for t in tenants) == ["acme-client-key", "globex-client-key"]


async def test_alg_none_install_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    claims = jwt.decode(world.acme.install_token(installation, installed_url()), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    response = await world.acme.send(with_token(install_request(world.acme, installation), unsigned))
    refused(response, "algorithm_not_allowed")


async def test_hs256_signed_with_the_rs256_public_key_is_refused(world: World) -> None:
    """Algorithm confusion: the public key is public, so an HMAC keyed with it proves nothing."""
    installation = await world.acme.register(DESCRIPTOR_URL)
    claims = jwt.decode(world.acme.install_token(installation, installed_url()), options={"verify_signature": False})
    header = {"kid": world.acme.signer.kid}
    forged = _hmac_token(claims, world.acme.signer.public_key_pem.encode(), header)
    response = await world.acme.send(with_token(install_request(world.acme, installation), forged))
    refused(response, "algorithm_not_allowed")
    assert world.runtime.tenants.list() == []


def _hmac_token(claims: dict[str, Any], key: bytes, header: dict[str, str]) -> str:
    # PyJWT refuses to HMAC with a PEM key, as it should; an attacker is not so polite.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode()) + "." + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


@pytest.mark.parametrize("kid", ["../../etc/passwd", "abc?x=1", "abc#frag", "abc%2Fdef", "", "a/b", "a" * 200])
async def test_a_kid_that_is_not_a_plain_key_id_never_reaches_the_key_server(world: World, kid: str) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    claims = jwt.decode(world.acme.install_token(installation, installed_url()), options={"verify_signature": False})
    token = jwt.encode(claims, world.acme.signer.private_key, algorithm="RS256", headers={"kid": kid})
    response = await world.acme.send(with_token(install_request(world.acme, installation), token))
    refused(response, "kid_invalid")
    assert world.acme.site.recorder.received("/connect-install-keys") == []


async def test_key_server_down_refuses_an_install_but_a_cached_key_still_works(world: World) -> None:
    world.acme.key_server_available = False
    installation = await world.acme.register(DESCRIPTOR_URL)
    refused(await world.acme.send(install_request(world.acme, installation)), "install_key_unavailable")
    assert world.runtime.tenants.list() == []

    world.acme.key_server_available = True
    await world.install()
    world.acme.key_server_available = False
    world.tick()
    await world.install()  # a re-install (secret rotation) while the key server is down: the cached key verifies
    assert len(world.acme.site.recorder.received("/connect-install-keys/")) == 2  # the refused fetch + one real


async def test_an_unreachable_key_server_refuses_the_install(world: World) -> None:
    del world.router.apps["http://acme.sim.test"]
    installation = await world.globex.register(DESCRIPTOR_URL)
    refused(await world.globex.send(install_request(world.globex, installation)), "install_key_unavailable")


async def test_iss_other_than_the_body_client_key_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    token = world.acme.install_token(installation, installed_url(), iss="someone-else")
    refused(await world.acme.send(with_token(install_request(world.acme, installation), token)), "issuer_mismatch")


async def test_wrong_audience_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    token = world.acme.install_token(installation, installed_url(), aud=["https://other-app.example.com"])
    refused(await world.acme.send(with_token(install_request(world.acme, installation), token)), "audience_mismatch")


async def test_install_token_for_another_lifecycle_path_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    token = world.acme.install_token(installation, APP_BASE_URL + "/lifecycle/uninstalled")
    refused(await world.acme.send(with_token(install_request(world.acme, installation), token)), "qsh_mismatch")


async def test_an_install_for_another_client_key_cannot_overwrite_a_known_tenants_secret(world: World) -> None:
    acme = await world.install()
    # Globex's site holds a validly signed install of its own and replays it with acme's clientKey in the body.
    globex = await world.globex.register(DESCRIPTOR_URL)
    request = install_request(world.globex, globex)
    body = json.loads(request.content) | {
        "clientKey": "acme-client-key",
        "sharedSecret": "attacker-chosen-secret-of-sufficient-length",
    }
    refused(await world.globex.send(with_body(request, body)), "issuer_mismatch")
    # Nor can a symmetric token signed with a secret the attacker picked.
    forged = jwt.encode(
        {"iss": "acme-client-key", "exp": 2**40, "qsh": "x"},
        "attacker-chosen-secret-of-sufficient-length",
        algorithm="HS256",
    )
    refused(await world.globex.send(with_token(with_body(request, body), forged)), "algorithm_not_allowed")
    assert secret_of(world, "acme-client-key") == acme.shared_secret


async def test_context_jwt_on_lifecycle_routes_is_refused(world: World) -> None:
    installation = await world.install()
    token = world.acme.install_token(installation, installed_url(), qsh="context-qsh")
    refused(
        await world.acme.send(with_token(install_request(world.acme, installation), token)),
        "context_token_not_allowed",
    )
    context = world.acme.context_token("issue-mailer")
    disable = world.acme.lifecycle_request(installation, "disabled")
    refused(await world.acme.send(with_token(disable, context)), "context_token_not_allowed")
    assert world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.ENABLED


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
async def test_non_json_lifecycle_body_is_refused(world: World, body: bytes) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    request = install_request(world.acme, installation)
    tampered = httpx.Request(
        "POST", request.url, headers={"Authorization": request.headers["authorization"]}, content=body
    )
    refused(await world.acme.send(tampered), "body_malformed", 400)


async def test_oversized_lifecycle_body_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    request = install_request(world.acme, installation)
    body = json.loads(request.content) | {"description": "x" * 70_000}
    refused(await world.acme.send(with_body(request, body)), "body_too_large", 413)


async def test_disable_enable_and_uninstall_move_the_tenant(world: World) -> None:
    await world.install()
    tenants = world.runtime.tenants
    world.tick()
    await world.acme.disable("issue-mailer")
    assert tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.DISABLED
    world.tick()
    await world.acme.enable("issue-mailer")
    assert tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.ENABLED
    world.tick()
    await world.acme.uninstall("issue-mailer")
    assert tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.UNINSTALLED
    # Enabling an uninstalled app is a conflict, not a crash.
    world.tick()
    response = await world.acme.send(world.acme.lifecycle_request(world.acme.installation("issue-mailer"), "enabled"))
    assert response.status_code == 409
    assert response.json()["error"] == "tenant_state_conflict"


async def test_enabled_signed_by_another_tenant_is_refused(world: World) -> None:
    await world.install()
    globex = await world.install(world.globex)
    request = world.globex.lifecycle_request(globex, "disabled")
    body = json.loads(request.content) | {"clientKey": "acme-client-key"}
    refused(await world.globex.send(with_body(request, body)), "issuer_mismatch")
    token = world.globex.shared_token(globex, "POST", APP_BASE_URL + "/lifecycle/disabled", iss="acme-client-key")
    refused(await world.globex.send(with_token(with_body(request, body), token)), "signature_invalid")
    assert world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.ENABLED
