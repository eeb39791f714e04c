"""``pledge sim`` as a process: the simulated site on loopback, steered through a small control API.

The control API (under ``/_sim``) exists only in the simulator: it lets ``pledge sim install|webhook|page|...``
commands, run from another terminal, act as the product towards an app served by ``pledge serve``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.clock import Clock
from pledge.sim.connect import ConnectSim, SimError
from pledge.sim.site import SimSite

CONTROL_PREFIX: Final = "/_sim"
_JWT_PARAMETER: Final = re.compile(r"([?&]jwt=)[^&]*")


def build_simulator(base_url: str, clock: Clock, *, product: str = "jira") -> ConnectSim:
    """A simulated site at ``base_url`` with Connect and the control API."""
    connect = ConnectSim(
        SimSite(base_url, clock, product=product, context_path="/wiki" if product == "confluence" else "")
    )
    add_control_routes(connect)
    return connect


def add_control_routes(sim: ConnectSim) -> None:
    def route(path: str, handler: Callable[[Request, dict[str, Any]], Awaitable[Any]], method: str = "POST") -> None:
        async def endpoint(request: Request) -> Response:
            body: dict[str, Any] = {}
            if method == "POST" and await request.body():
                try:
                    parsed = await request.json()
                except ValueError:
                    return JSONResponse({"error": "the control request body is not JSON"}, status_code=400)
                body = parsed if isinstance(parsed, dict) else {}
            try:
                return JSONResponse(await handler(request, body))
            except SimError as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)

        sim.site.add_route(CONTROL_PREFIX + path, endpoint, methods=(method,))

    async def install(_request: Request, body: dict[str, Any]) -> Any:
        url = body.get("descriptorUrl")
        if not isinstance(url, str):
            raise SimError("give the app's descriptor URL as descriptorUrl")
        installation = await sim.install(url)
        return {"appKey": installation.app_key, "clientKey": installation.client_key, "baseUrl": sim.site.product_url}

    async def lifecycle(request: Request, _body: dict[str, Any]) -> Any:
        app_key, action = request.path_params["app"], request.path_params["action"]
        actions = {"enable": sim.enable, "disable": sim.disable, "uninstall": sim.uninstall}
        if action not in actions:
            raise SimError(f"unknown action {action!r}: enable, disable or uninstall")
        await actions[action](app_key)
        return {"appKey": app_key, "done": action}

    async def webhook(request: Request, body: dict[str, Any]) -> Any:
        app_key = request.path_params["app"]
        event = str(body.get("event", "jira:issue_updated"))
        issue_key = str(body.get("issueKey", "SIM-1"))
        if issue_key not in sim.site.issues:
            raise SimError(f"the simulated site has no issue {issue_key!r} (it has {', '.join(sim.site.issues)})")
        issue = {"issue": {"key": issue_key, "fields": dict(sim.site.issues[issue_key])}}
        response = await sim.send_webhook(app_key, event, issue)
        return {"status": response.status_code, "body": response.text}

    async def page(request: Request, body: dict[str, Any]) -> Any:
        app_key, page_key = request.path_params["app"], request.path_params["page"]
        context = {str(k): str(v) for k, v in body.get("context", {}).items()}
        response = await sim.load_page(app_key, page_key, context=context)
        return {"url": redact_jwt(str(response.request.url)), "status": response.status_code, "body": response.text}

    async def log(_request: Request, _body: dict[str, Any]) -> Any:
        return [
            {"direction": e.direction, "method": e.method, "url": redact_jwt(e.url), "status": e.status}
            for e in sim.site.recorder.all()
            if CONTROL_PREFIX not in e.url
        ]

    route("/install", install)
    route("/apps/{app}/lifecycle/{action}", lifecycle)
    route("/apps/{app}/webhook", webhook)
    route("/apps/{app}/pages/{page}", page)
    route("/log", log, method="GET")


def redact_jwt(url: str) -> str:
    """Tokens never appear in printed URLs."""
    return _JWT_PARAMETER.sub(r"\1[redacted]", url)
