"""Baseline: a bare JSON POST route on the Pledge host, no authentication, no storage.

Every other scenario is read against this one. It also settles the server choice (issue 2: "measure and pick"):
the same host under uvicorn and under granian, the same route on Starlette alone to show what the host itself
(metrics middleware, mount) costs, and ``pledge serve`` as shipped, whose JSON access log is on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.harness import LoadResult, Row, interleave, pledge_host, run_wrk, serve
from pledge.app import App, Auth, RequestContext

PATH = "/echo"
APP_PATH = "/apps/bench" + PATH
HOST_FACTORY = "bench.baseline:create_app"
DURATION = 3
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
    def post(url: str) -> Callable[[], LoadResult]:
        return lambda: run_wrk(url, method="POST", headers=HEADERS, body=BODY, duration=DURATION)

    with ExitStack() as stack:
        uvicorn = stack.enter_context(serve(HOST_FACTORY, factory=True, ready_path="/healthz"))
        granian = stack.enter_context(serve(HOST_FACTORY, factory=True, server="granian", ready_path="/healthz"))
        alone = stack.enter_context(serve("bench.baseline:bare"))
        shipped = stack.enter_context(serve("bench.baseline:app", server="pledge serve", ready_path="/healthz"))
        return interleave(
            {
                "pledge host, uvicorn": post(uvicorn.url + APP_PATH),
                "pledge host, granian": post(granian.url + APP_PATH),
                "starlette alone, uvicorn": post(alone.url + PATH),
                "pledge serve (access log on)": post(shipped.url + APP_PATH),
            }
        )
