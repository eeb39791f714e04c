"""Every request the product sends to an app (webhooks, page loads) and every call of the app's own frontend."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import httpx
import jwt
import pytest
from tests.connect.conftest import APP_BASE_URL, World
from tests.connect.test_lifecycle import refused, with_token

from pledge.clock import FrozenClock
from pledge.trust.jws import MAX_TOKEN_LENGTH

WEBHOOK_URL = APP_BASE_URL + "/webhooks/jira-issue-updated"
ISSUE = {"issue": {"key": "SIM-1", "fields": {"summary": "Printer on fire"}}}


def webhook(world: World, payload: dict[str, object] | None = None) -> httpx.Request:
    return world.acme.webhook_request("issue-mailer", "jira:issue_updated", payload or ISSUE)


def token_of(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("JWT ")


async def test_a_signed_webhook_reaches_the_handler_which_calls_back_signed(world: World) -> None:
    await world.install()
    response = await world.acme.send(webhook(world))
    assert response.status_code == 204, response.text
    callback = world.acme.site.recorder.received("/rest/api/3/issue/SIM-1")
    assert [c.status for c in callback] == [200]


async def test_a_page_load_with_the_jwt_parameter_renders(world: World) -> None:
    await world.install()
    response = await world.acme.load_page("issue-mailer", "email-issue", context={"issue.key": "SIM-1"})
    assert response.status_code == 200, response.text
    assert "SIM-1: Printer on fire" in response.text
    # Only the tenant's own site may frame the page; the token in its URL goes to no other site as a referrer.
    assert response.headers["content-security-policy"] == f"frame-ancestors {world.acme.site.product_url}"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_frontend_route_accepts_a_context_jwt(world: World) -> None:
    await world.install()
    token = world.acme.context_token("issue-mailer", account_id="user-42")
    response = await world.client.get(
        "api/preview", params={"issueKey": "SIM-1"}, headers={"Authorization": f"JWT {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"issueKey": "SIM-1", "subject": "[SIM-1] Printer on fire"}


async def test_no_token_and_an_unknown_tenant_are_refused(world: World) -> None:
    await world.install()
    refused(await world.client.post(WEBHOOK_URL, json=ISSUE), "token_missing")
    refused(await world.client.post(WEBHOOK_URL, json=ISSUE, headers={"Authorization": "Bearer x"}), "token_missing")
    stranger = jwt.encode({"iss": "nobody", "exp": 2**40, "qsh": "x"}, "s" * 32, algorithm="HS256")
    # Not "tenant unknown": a refusal must not tell who is installed (see test_unknown_tenants.py).
    refused(
        await world.client.post(WEBHOOK_URL, json=ISSUE, headers={"Authorization": f"JWT {stranger}"}),
        "signature_invalid",
    )


async def test_alg_none_webhook_is_refused(world: World) -> None:
    await world.install()
    request = webhook(world)
    claims = jwt.decode(token_of(request), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    refused(await world.acme.send(with_token(request, unsigned)), "algorithm_not_allowed")


async def test_a_token_of_tenant_a_cannot_speak_for_tenant_b(world: World) -> None:
    acme = await world.install()
    await world.install(world.globex)
    # Acme knows its own secret; it claims to be globex.
    forged = world.acme.shared_token(acme, "POST", WEBHOOK_URL, iss="globex-client-key")
    refused(await world.acme.send(with_token(webhook(world), forged)), "signature_invalid")
    assert world.globex.site.recorder.received("/rest/api") == []


async def test_wrong_qsh_is_refused(world: World) -> None:
    installation = await world.install()
    other_path = world.acme.shared_token(installation, "POST", APP_BASE_URL + "/webhooks/other")
    refused(await world.acme.send(with_token(webhook(world), other_path)), "qsh_mismatch")
    # A parameter added to a signed page URL breaks its hash.
    url = world.acme.page_url("issue-mailer", "email-issue", context={"issue.key": "SIM-1"})
    refused(await world.client.get(url.replace("issueKey=SIM-1", "issueKey=SIM-2")), "qsh_mismatch")
    refused(await world.client.get(url + "&extra=1"), "qsh_mismatch")
    refused(
        await world.client.post(url.replace("/pages/email-issue", "/webhooks/jira-issue-updated"), json=ISSUE),
        "qsh_mismatch",
    )


async def test_expired_and_not_yet_valid_tokens_are_refused(world: World, clock: FrozenClock) -> None:
    await world.install()
    request = webhook(world)
    clock.advance(timedelta(seconds=180 + 29))
    assert (await world.acme.send(request)).status_code == 204  # within the 30 s leeway
    clock.advance(timedelta(seconds=2))
    refused(await world.acme.send(request), "token_expired")

    future = world.acme.shared_token(world.acme.installation("issue-mailer"), "POST", WEBHOOK_URL, nbf=2**33)
    refused(await world.acme.send(with_token(webhook(world), future)), "token_not_yet_valid")
    issued_later = world.acme.shared_token(
        world.acme.installation("issue-mailer"), "POST", WEBHOOK_URL, iat=int(clock.now().timestamp()) + 60
    )
    refused(await world.acme.send(with_token(webhook(world), issued_later)), "token_not_yet_valid")
    no_exp = jwt.encode(
        {"iss": "acme-client-key", "qsh": "x"}, world.acme.installation("issue-mailer").shared_secret, algorithm="HS256"
    )
    refused(await world.acme.send(with_token(webhook(world), no_exp)), "claims_invalid")


async def test_context_jwt_on_webhook_and_page_routes_is_refused(world: World) -> None:
    await world.install()
    context = world.acme.context_token("issue-mailer")
    refused(await world.acme.send(with_token(webhook(world), context)), "context_token_not_allowed")
    page = APP_BASE_URL + "/pages/email-issue?issueKey=SIM-1"
    refused(await world.client.get(page, params={"jwt": context}), "context_token_not_allowed")
    refused(await world.client.get(page, headers={"Authorization": f"JWT {context}"}), "context_token_not_allowed")


async def test_oversized_tokens_and_bodies_are_refused_unparsed(world: World) -> None:
    await world.install()
    huge = "e" * (MAX_TOKEN_LENGTH + 1)
    refused(await world.acme.send(with_token(webhook(world), huge)), "token_too_large")
    refused(await world.client.get(APP_BASE_URL + "/pages/email-issue", params={"jwt": huge}), "token_too_large")
    big = webhook(world, {"issue": {"key": "SIM-1"}, "padding": "x" * (1024 * 1024)})
    too_large = await world.acme.send(big)  # refused by the host's body bound, before the verifier runs
    assert (too_large.status_code, too_large.json()["error"]) == (413, "body_too_large")


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe\x00", b"[]", b""])
async def test_non_json_webhook_body_is_refused(world: World, body: bytes) -> None:
    await world.install()
    request = webhook(world)
    tampered = httpx.Request(
        "POST", request.url, headers={"Authorization": request.headers["authorization"]}, content=body
    )
    refused(await world.acme.send(tampered), "body_malformed", 400)


async def test_webhooks_for_a_disabled_or_uninstalled_tenant_are_refused(world: World) -> None:
    await world.install()
    world.tick()
    await world.acme.disable("issue-mailer")
    refused(await world.acme.send(webhook(world)), "tenant_inactive")
    world.tick()
    await world.acme.enable("issue-mailer")
    assert (await world.acme.send(webhook(world))).status_code == 204
    request = webhook(world)  # signed while installed
    await world.acme.uninstall("issue-mailer")
    refused(await world.acme.send(request), "tenant_inactive")


async def test_a_rotated_secret_takes_effect_at_once(world: World) -> None:
    await world.install()
    old = webhook(world)
    world.tick()
    await world.install()  # Atlassian rotates the secret by re-installing
    refused(await world.acme.send(old), "signature_invalid")
    assert (await world.acme.send(webhook(world))).status_code == 204


async def test_random_bytes_as_token_or_body_never_give_a_server_error(world: World) -> None:
    await world.install()
    rng = random.Random(20261127)
    valid = webhook(world)
    for _ in range(300):
        junk = rng.randbytes(rng.randint(0, 600))
        token = junk.decode("latin-1").replace("\r", "").replace("\n", "")
        mutated = bytearray(token_of(valid).encode())
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(33, 127)
        attempts = [
            httpx.Request(
                "POST", valid.url, headers={"Authorization": b"JWT " + token.encode("latin-1")}, content=junk
            ),
            httpx.Request(
                "POST", valid.url, headers={"Authorization": b"JWT " + bytes(mutated)}, content=valid.content
            ),
            httpx.Request("POST", valid.url, headers={"Authorization": valid.headers["authorization"]}, content=junk),
            httpx.Request("GET", APP_BASE_URL + "/pages/email-issue", params={"jwt": token}),
            httpx.Request(
                "POST",
                APP_BASE_URL + "/lifecycle/installed",
                headers={"Authorization": b"JWT " + bytes(mutated)},
                content=junk,
            ),
        ]
        for request in attempts:
            response = await world.client.send(request)
            assert response.status_code < 500, (request.method, request.url.path, response.text)
            if response.status_code == 401:
                assert set(json.loads(response.content)) == {"error", "message"}


async def test_a_webhook_token_claiming_a_long_lifetime_is_refused(world: World) -> None:
    installation = await world.install()
    request = webhook(world)
    long_lived = world.acme.shared_token(installation, "POST", WEBHOOK_URL, lifetime=2 * 3600)
    refused(await world.acme.send(with_token(request, long_lived)), "token_lifetime_too_long")
