from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from pledge.app import App, Auth, Identity, RequestContext
from pledge.bodies import MAX_BODY_BYTES, MAX_JSON_DEPTH
from pledge.errors import ConfigurationError, Refused
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.serving import build_app

app = App(key="hello", name="Hello")


@app.route("/descriptor", auth=Auth.PUBLIC)
async def descriptor(_context: RequestContext) -> dict[str, str]:
    return {"key": "hello"}


@app.route("/whoami", auth=Auth.CONNECT_CONTEXT)
async def whoami(context: RequestContext) -> dict[str, str | None]:
    return {"tenant": context.tenant.id, "user": context.identity.account_id if context.identity else None}


@app.route("/echo", auth=Auth.PUBLIC, methods=("POST",))
async def echo(context: RequestContext) -> dict[str, object]:
    first = await context.json()
    assert await context.json() is first  # parsed once per request
    return {"received": first}


def test_a_handler_reads_the_json_body_and_a_malformed_one_is_a_400(runtime: Runtime) -> None:
    client = TestClient(create_host(runtime, [app]))
    sent = {"issue": "SIM-1", "labels": ["é", 1.5, None]}
    assert client.post("/apps/hello/echo", json=sent).json() == {"received": sent}
    for body in (b"{", b"NaN", b"\xff", b'"\\ud800"', b"[1] [2]"):
        response = client.post("/apps/hello/echo", content=body)
        assert (response.status_code, response.json()) == (
            400,
            {"error": "body_malformed", "message": "the request body is not JSON"},
        )


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 1024, 5000])
def test_a_body_nested_deeper_than_the_bound_is_a_400_not_a_recursion_error(runtime: Runtime, depth: int) -> None:
    """Before, a 1000-level array parsed, and echoing it back raised RecursionError: a 500."""
    client = TestClient(create_host(runtime, [app]), raise_server_exceptions=False)
    response = client.post("/apps/hello/echo", content=b"[" * depth + b"]" * depth)
    assert (response.status_code, response.json()["error"]) == (400, "body_malformed")
    assert f"deeper than {MAX_JSON_DEPTH} levels" in response.json()["message"] or depth > 1024
    assert client.post("/apps/hello/echo", content=b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH).status_code == 200


def test_every_body_is_bounded_chunked_or_not(runtime: Runtime) -> None:
    """Before, a route read any body whole into memory, however large, with or without Content-Length."""
    client = TestClient(create_host(runtime, [app]))
    oversized = b'"' + b"x" * MAX_BODY_BYTES + b'"'

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(oversized), 64 * 1024):
            yield oversized[start : start + 64 * 1024]

    for response in (
        client.post("/apps/hello/echo", content=oversized),
        client.post("/apps/hello/echo", content=chunks()),
    ):
        assert response.status_code == 413
        assert response.json() == {
            "error": "body_too_large",
            "message": f"the request body is larger than {MAX_BODY_BYTES} bytes",
        }
        assert response.headers["connection"] == "close"
    within = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(client.post("/apps/hello/echo", content=within).json()["received"]) == MAX_BODY_BYTES - 2


def test_a_route_whose_auth_has_no_verifier_cannot_be_served(runtime: Runtime) -> None:
    with pytest.raises(ConfigurationError, match="no verifier for 'connect-context' routes"):
        build_app(app, runtime, verifiers={})


def test_verified_identity_reaches_the_handler_and_refusals_are_401_json(runtime: Runtime) -> None:
    tenant = runtime.tenants.create(
        app_key="hello", client_key="ck", base_url="https://a.atlassian.net", product_type="jira"
    )

    async def verifier(request: Request) -> Identity:
        if request.headers.get("x-test") != "ok":
            raise Refused("token_missing", "no token in the request")
        return Identity(tenant=tenant, account_id="user-1", claims={})

    host = create_host(runtime)
    host.mount("/apps/hello", build_app(app, runtime, verifiers={Auth.CONNECT_CONTEXT: verifier}))
    client = TestClient(host)
    assert client.get("/apps/hello/descriptor").json() == {"key": "hello"}
    refused = client.get("/apps/hello/whoami")
    assert refused.status_code == 401
    assert refused.json() == {"error": "token_missing", "message": "no token in the request"}
    assert client.get("/apps/hello/whoami", headers={"x-test": "ok"}).json() == {"tenant": tenant.id, "user": "user-1"}


@pytest.mark.parametrize("path", ["relative", "/a//b", "/a/../b"])
def test_route_paths_must_be_normalised(path: str) -> None:
    with pytest.raises(ValueError, match="must be absolute and normalised"):
        App(key="x", name="X").route(path, auth=Auth.PUBLIC)
