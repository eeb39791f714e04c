"""``pledge sim`` as a process: one simulated site on loopback, Connect and Forge sides, steered by its control API.

The control API (``pledge.sim.control``) lets ``pledge sim install|webhook|page|...`` and ``pledge sim forge ...``,
run from another terminal, act as the product towards an app served by ``pledge serve`` (S11).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from pledge.clock import Clock
from pledge.sim.account_reporting import AccountDirectory, add_reporting_control_routes
from pledge.sim.connect_site import ConnectSim, SimError
from pledge.sim.control import CONTROL_PREFIX, ControlHandler, add_control_route, redact_jwt
from pledge.sim.forge_control import add_forge_control_routes
from pledge.sim.forge_site import ForgeSite
from pledge.sim.site import Exchange, SimSite


@dataclass(frozen=True)
class Simulator:
    """The site, its Connect side, its Forge side when it serves a Forge app, and Atlassian's accounts."""

    site: SimSite
    connect: ConnectSim
    forge: ForgeSite | None
    accounts: AccountDirectory


def build_simulator(
    base_url: str, clock: Clock, *, product: str = "jira", forge_app_id: str | None = None
) -> Simulator:
    """A simulated site at ``base_url`` with Connect, Forge for ``forge_app_id`` if given, and the control API."""
    site = SimSite(base_url, clock, product=product, context_path="/wiki" if product == "confluence" else "")
    connect = ConnectSim(site)
    forge = ForgeSite(forge_app_id, clock=clock, site=site) if forge_app_id is not None else None
    add_connect_control_routes(connect)
    add_forge_control_routes(site, forge)
    accounts = AccountDirectory(clock)
    accounts.serve_on(site)
    add_reporting_control_routes(site, accounts)
    add_control_route(site, "/log", _log_route(site, forge), method="GET")
    return Simulator(site, connect, forge, accounts)


def add_connect_control_routes(sim: ConnectSim) -> None:
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

    add_control_route(sim.site, "/install", install)
    add_control_route(sim.site, "/apps/{app}/lifecycle/{action}", lifecycle)
    add_control_route(sim.site, "/apps/{app}/webhook", webhook)
    add_control_route(sim.site, "/apps/{app}/pages/{page}", page)


def _log_route(site: SimSite, forge: ForgeSite | None) -> ControlHandler:
    def credential(exchange: Exchange) -> str | None:
        return forge.credential(exchange.headers) if forge is not None else None

    async def log(_request: Request, _body: dict[str, Any]) -> Any:
        return [
            {
                "direction": e.direction,
                "method": e.method,
                "url": redact_jwt(e.url),
                "status": e.status,
                "credential": credential(e),
            }
            for e in site.recorder.all()
            if CONTROL_PREFIX not in e.url
        ]

    return log
