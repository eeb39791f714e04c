"""A site's base URL is taken at install only under Atlassian's product domains (PLEDGE_TENANT_DOMAINS; these tests'
simulated sites live under sim.test): a validly signed install naming any other host is refused, and so is every
host name that is not a label below a declared domain."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from tests.connect.conftest import DESCRIPTOR_URL, World
from tests.connect.test_lifecycle import install_request, refused, with_body

from pledge.connect.lifecycle_routes import InstallPayload
from pledge.errors import Refused

DOMAINS = ("atlassian.net", "jira.com")


async def test_a_signed_install_naming_a_host_off_the_product_domains_is_refused(world: World) -> None:
    installation = await world.acme.register(DESCRIPTOR_URL)
    request = install_request(world.acme, installation)
    body = json.loads(request.content) | {"baseUrl": "http://acme.sim.test.evil.example"}
    # Signed as Atlassian signs installs: the token's qsh covers the method and URL, not the body.
    answer = await world.acme.send(with_body(request, body))
    refused(answer, "body_malformed", status=400)
    assert "baseUrl is not on an Atlassian product domain" in answer.text
    assert world.runtime.tenants.list(app_key="issue-mailer") == []


def _payload(base_url: str) -> dict[str, object]:
    return {"key": "app", "clientKey": "ck", "sharedSecret": "s" * 32, "baseUrl": base_url, "productType": "jira"}


def _accepted(base_url: str, *, development: bool = False) -> bool:
    try:
        InstallPayload.parse(_payload(base_url), "app", allow_http=development, domains=DOMAINS)
    except Refused:
        return False
    return True


@given(site=st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True), path=st.sampled_from(["", "/wiki"]))
def test_every_site_under_a_product_domain_installs(site: str, path: str) -> None:
    assert _accepted(f"https://{site}.atlassian.net{path}")
    assert _accepted(f"https://{site}.jira.com{path}")


@given(host=st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True))
def test_no_other_host_installs(host: str) -> None:
    under = host.rstrip(".").endswith((".atlassian.net", ".jira.com"))
    assert _accepted(f"https://{host}") == under or not _is_a_url_host(host)


def _is_a_url_host(host: str) -> bool:
    return not host.startswith(".") and ".." not in host


def test_look_alikes_and_loopback_outside_development_are_refused() -> None:
    for base_url in (
        "https://evilatlassian.net",
        "https://atlassian.net",
        "https://acme.atlassian.net.evil.example",
        "https://acme.atlassian.net@evil.example",
        "http://127.0.0.1:9000",
    ):
        assert not _accepted(base_url), base_url
    assert _accepted("http://127.0.0.1:9000", development=True)  # pledge sim's sites on loopback
