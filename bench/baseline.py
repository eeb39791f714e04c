"""Baseline: a bare JSON POST route on the Pledge host, no authentication, no storage.

Every other scenario is read against this one. It also settles the server choice (issue 2: "measure and pick"):
the same host under uvicorn and under granian, and the same route on Starlette alone to show what the host
itself (metrics middleware, mount) costs.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import Row, Server, pledge_host, run_wrk, serve
from pledge.app import App, Auth, RequestContext

PATH = "/echo"
BODY = json.dumps({"issue": "PLG-1", "fields": {"summary": "Benchmark", "labels": ["a", "b", "c"]}, "n": 42})
HEADERS = {"Content-Type": "application/json"}

app = App(key="bench", name="Benchmark baseline")


@app.route(PATH, auth=Auth.PUBLIC, methods=("POST",))
async def echo(context: RequestContext) -> dict[str, object]:
    payload = await context.request.json()
    return {"received": sorted(payload)}


def create_app() -> Starlette:
    """The Pledge host with the baseline app mounted at /apps/bench."""
    return pledge_host(app)


async def _bare_echo(request: Request) -> JSONResponse:
    payload = await request.json()
    return JSONResponse({"received": sorted(payload)})


bare = Starlette(routes=[Route(PATH, _bare_echo, methods=["POST"])])


def scenarios() -> list[Row]:
    rows: list[Row] = []
    servers: tuple[Server, ...] = ("uvicorn", "granian")
    for server in servers:
        with serve("bench.baseline:create_app", factory=True, server=server, ready_path="/healthz") as served:
            result = run_wrk(served.url + "/apps/bench" + PATH, method="POST", headers=HEADERS, body=BODY)
        rows.append(Row(f"pledge host, {server}", result, "JSON POST, public route"))
    with serve("bench.baseline:bare") as served:
        result = run_wrk(served.url + PATH, method="POST", headers=HEADERS, body=BODY)
    rows.append(Row("starlette alone, uvicorn", result, "same handler, no host"))
    return rows
