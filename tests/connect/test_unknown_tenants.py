"""A refusal does not tell an unauthenticated caller whether a clientKey is installed (issue #11, item 10a).

An unknown, purged or too long clientKey is refused exactly as a known one with a wrong signature: same status,
same code, same message, after the same HMAC. Only a caller whose signature verified with the tenant's own secret
learns the tenant's state (``tenant_inactive``), and that caller holds the secret already.
"""

from __future__ import annotations

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.connect.conftest import APP_BASE_URL, World
from tests.connect.test_lifecycle import refused, with_body, with_token

from pledge.trust import connect_jwt as connect_module
from pledge.trust.jws import SharedSecret

WEBHOOK_URL = APP_BASE_URL + "/webhooks/jira-issue-updated"
ISSUE = {"issue": {"key": "SIM-1", "fields": {"summary": "Printer on fire"}}}
GUESS = "a-guessed-secret-of-sufficient-length"


def forged(world: World, client_key: str, url: str = WEBHOOK_URL) -> str:
    installation = world.acme.installation("issue-mailer")
    real, installation.shared_secret = installation.shared_secret, GUESS
    try:
        return world.acme.shared_token(installation, "POST", url, iss=client_key)
    finally:
        installation.shared_secret = real


async def answer(world: World, client_key: str) -> tuple[int, dict[str, str]]:
    request = world.acme.webhook_request("issue-mailer", "jira:issue_updated", ISSUE)
    response = await world.acme.send(with_token(request, forged(world, client_key)))
    return response.status_code, response.json()


async def test_an_unknown_client_key_is_refused_as_a_wrong_signature_is(world: World) -> None:
    await world.install()
    known = await answer(world, "acme-client-key")
    assert known[0] == 401 and known[1]["error"] == "signature_invalid"
    assert await answer(world, "nobody-installed-this") == known
    assert await answer(world, "x" * 300) == known  # longer than any clientKey: not even looked up


async def test_lifecycle_enable_for_an_unknown_client_key_tells_nothing_either(world: World) -> None:
    installation = await world.install()
    world.tick()
    request = world.acme.lifecycle_request(installation, "enabled")
    known = await world.acme.send(
        with_token(request, forged(world, "acme-client-key", APP_BASE_URL + "/lifecycle/enabled"))
    )
    stranger_body = with_body(request, {"key": "issue-mailer", "clientKey": "nobody-installed-this"})
    unknown = await world.acme.send(
        with_token(stranger_body, forged(world, "nobody-installed-this", APP_BASE_URL + "/lifecycle/enabled"))
    )
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert known.json()["error"] == "signature_invalid"


async def test_an_uninstalled_tenant_is_inactive_only_to_a_caller_holding_its_secret(world: World) -> None:
    await world.install()
    before = await answer(world, "acme-client-key")
    signed_while_installed = world.acme.webhook_request("issue-mailer", "jira:issue_updated", ISSUE)
    world.tick()
    await world.acme.uninstall("issue-mailer")
    assert await answer(world, "acme-client-key") == before  # a wrong signature still learns nothing
    refused(await world.acme.send(signed_while_installed), "tenant_inactive")


async def test_a_purged_tenant_is_refused_as_an_unknown_one(world: World) -> None:
    await world.install()
    known = await answer(world, "nobody-installed-this")
    tenant = world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key")
    world.runtime.vault.shred(tenant.id)
    world.runtime.connect_tenants.forget("issue-mailer", "acme-client-key")
    refused(
        await world.acme.send(world.acme.webhook_request("issue-mailer", "jira:issue_updated", ISSUE)),
        "signature_invalid",
    )
    assert await answer(world, "acme-client-key") == known


async def test_an_unknown_client_key_costs_an_hmac_and_one_database_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work as a wrong signature: the HMAC is computed with a key nobody holds; repeats are answered from
    memory, as a known tenant's are, so the database is not the tell (nor a way to load it)."""
    await world.install()
    signed: list[bytes] = []
    real_sign = SharedSecret.sign

    def counting_sign(self: SharedSecret, message: bytes) -> bytes:
        signed.append(message)
        return real_sign(self, message)

    reads: list[str] = []
    real_installation = world.runtime.tenants.connect_installation

    def counting_read(app_key: str, client_key: str) -> object:
        reads.append(client_key)
        return real_installation(app_key, client_key)

    monkeypatch.setattr(SharedSecret, "sign", counting_sign)
    monkeypatch.setattr(world.runtime.tenants, "connect_installation", counting_read)
    for _ in range(20):
        await answer(world, "nobody-installed-this")
    assert len(signed) == 20
    assert reads == ["nobody-installed-this"]


def test_the_no_tenant_key_is_not_one_anybody_can_guess() -> None:
    key = connect_module._NO_TENANT_KEY
    assert isinstance(key, SharedSecret)
    assert key.sign(b"x") != SharedSecret(b"").sign(b"x")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(client_key=st.text(min_size=1, max_size=400).filter(lambda k: k != "acme-client-key"))
async def test_no_client_key_gets_an_answer_other_than_a_wrong_signature(world: World, client_key: str) -> None:
    if "issue-mailer" not in world.acme.installations:
        await world.install()
    token = jwt.decode(forged(world, client_key), options={"verify_signature": False})
    assert token["iss"] == client_key
    status, body = await answer(world, client_key)
    assert status == 401
    assert body == {
        "error": "signature_invalid",
        "message": "the token's signature does not verify with the expected key",
    }
