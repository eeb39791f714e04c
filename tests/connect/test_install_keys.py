"""The install-keys client: whatever kid arrives and whatever the key server does, a refusal, never a 500; and
an unauthenticated caller cannot make Pledge fetch more than a bounded number of keys."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.connect.conftest import DESCRIPTOR_URL, World
from tests.connect.test_lifecycle import install_request, installed_url, refused, with_token

from pledge.clock import FrozenClock
from pledge.egress import OutboundClient
from pledge.errors import Refused
from pledge.tenants import TenantState
from pledge.trust.install_keys import FETCH_BURST, FETCH_INTERVAL_SECONDS, MISS_TTL_SECONDS, InstallKeys

KEYS = "https://keys.example.test"
REFUSALS = {"kid_invalid", "install_key_unavailable", "install_key_rate_limited"}


def signed_with_kid(world: World, kid: str, installation: object) -> httpx.Request:
    claims = jwt.decode(
        world.acme.install_token(installation, installed_url()),  # type: ignore[arg-type]
        options={"verify_signature": False},
    )
    token = jwt.encode(claims, world.acme.signer.private_key, algorithm="RS256", headers={"kid": kid})
    return with_token(install_request(world.acme, installation), token)  # type: ignore[arg-type]


@pytest.mark.parametrize("kid", ["abc\n", "abc\r\n", "\nabc", "abc\x00", "a b"])
async def test_a_kid_with_a_newline_is_refused_as_invalid_without_a_traceback(
    world: World, kid: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The attack run's finding: ``abc\\n`` passed ``^...$``, then the URL build raised InvalidURL: a 500."""
    installation = await world.acme.register(DESCRIPTOR_URL)
    with caplog.at_level(logging.DEBUG):
        response = await world.acme.send(signed_with_kid(world, kid, installation))
    refused(response, "kid_invalid")
    assert world.acme.site.recorder.received("/connect-install-keys") == []
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


class Failing(httpx.AsyncBaseTransport):
    """A key server reached through a transport that fails in a given way."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        httpx.InvalidURL("bad"),
        httpx.ConnectError("down"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("nonsense"),
        UnicodeError("idna"),
        ValueError("x"),
        RuntimeError("anything"),
    ],
)
async def test_every_fetch_failure_is_a_refusal(clock: FrozenClock, error: BaseException) -> None:
    keys = InstallKeys(KEYS, OutboundClient([KEYS], transport=Failing(error)), clock)
    with pytest.raises(Refused) as refusal:
        await keys.public_key("kid-1")
    assert refusal.value.code == "install_key_unavailable"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200, deadline=None)
@given(kid=st.one_of(st.text(max_size=140), st.binary(max_size=40), st.integers(), st.none()))
async def test_any_kid_is_a_key_or_a_refusal(clock: FrozenClock, kid: object) -> None:
    async def junk(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"-----BEGIN PUBLIC KEY-----\nnot a key\n")

    keys = InstallKeys(KEYS, OutboundClient([KEYS], transport=httpx.MockTransport(junk)), clock)
    with pytest.raises(Refused) as refusal:
        await keys.public_key(kid)
    assert refusal.value.code in REFUSALS


async def test_two_hundred_made_up_kids_cause_a_bounded_number_of_fetches(world: World, clock: FrozenClock) -> None:
    """The attack run: 200 unauthenticated installs with distinct kids made 200 fetches in 1.3 s."""
    installation = await world.acme.register(DESCRIPTOR_URL)
    codes = []
    for n in range(200):
        response = await world.acme.send(signed_with_kid(world, f"made-up-{n}", installation))
        assert response.status_code == 401
        codes.append(response.json()["error"])
    fetched = world.acme.site.recorder.received("/connect-install-keys/")
    assert len(fetched) == FETCH_BURST
    assert set(codes) == {"install_key_unavailable", "install_key_rate_limited"}
    assert codes.count("install_key_rate_limited") == 200 - FETCH_BURST
    # The bucket refills on the clock: one fetch per interval, so the real install gets through after a wait.
    refused(await world.acme.send(install_request(world.acme, installation)), "install_key_rate_limited")
    clock.advance(timedelta(seconds=FETCH_INTERVAL_SECONDS))
    response = await world.acme.send(install_request(world.acme, installation))
    assert response.status_code == 204, response.text
    assert world.runtime.tenants.by_client_key("issue-mailer", "acme-client-key").state is TenantState.INSTALLED


async def test_a_kid_the_server_does_not_know_is_not_asked_for_again_for_a_while(
    world: World, clock: FrozenClock
) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    for _ in range(50):
        refused(await world.acme.send(signed_with_kid(world, "retired-kid", installation)), "install_key_unavailable")
    assert len(world.acme.site.recorder.received("/connect-install-keys/")) == 1
    clock.advance(timedelta(seconds=MISS_TTL_SECONDS))
    refused(await world.acme.send(signed_with_kid(world, "retired-kid", installation)), "install_key_unavailable")
    assert len(world.acme.site.recorder.received("/connect-install-keys/")) == 2


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=40), st.floats(min_value=0, max_value=30)), min_size=1, max_size=8
    )
)
async def test_fetches_never_exceed_the_burst_plus_one_per_interval(
    clock: FrozenClock, steps: list[tuple[int, float]]
) -> None:
    fetched = 0

    async def missing(request: httpx.Request) -> httpx.Response:
        nonlocal fetched
        fetched += 1
        return httpx.Response(404)

    keys = InstallKeys(KEYS, OutboundClient([KEYS], transport=httpx.MockTransport(missing)), clock)
    elapsed = 0.0
    kid = 0
    for burst, pause in steps:
        for _ in range(burst):
            kid += 1
            with pytest.raises(Refused):
                await keys.public_key(f"kid-{kid}")
        clock.advance(timedelta(seconds=pause))
        elapsed += pause
    assert fetched == keys.fetches
    assert fetched <= FETCH_BURST + elapsed / FETCH_INTERVAL_SECONDS + 1
