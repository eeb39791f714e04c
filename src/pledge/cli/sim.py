"""``pledge sim``: a simulated Atlassian site on loopback, and the commands that make it act on an app.

``pledge sim serve`` runs the site; the other subcommands ask the running site (through its control API) to
install an app by its descriptor URL, send it webhooks, load its pages, and disable or uninstall it.
"""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
import uvicorn

from pledge.clock import SystemClock
from pledge.config import _is_loopback  # the one definition of loopback, shared with dev mode
from pledge.errors import ConfigurationError, PledgeError
from pledge.logs import configure_logging
from pledge.sim.server import CONTROL_PREFIX, build_simulator

DEFAULT_SIM_URL = "http://127.0.0.1:8100"
_sim_option = click.option(
    "--sim", "sim_url", default=DEFAULT_SIM_URL, show_default=True, help="URL of the running `pledge sim serve`."
)


@click.group()
def sim() -> None:
    """A simulated Atlassian Cloud site for development: install, webhooks, pages, REST."""


@sim.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8100, show_default=True, type=int, help="Port to bind.")
@click.option("--product", type=click.Choice(["jira", "confluence"]), default="jira", show_default=True)
def serve(host: str, port: int, product: str) -> None:
    """Run the simulated site until interrupted."""
    if not _is_loopback(host):
        raise ConfigurationError(f"--host {host!r}: the simulator has no authentication and binds loopback only")
    configure_logging("INFO")
    simulator = build_simulator(f"http://{host}:{port}", SystemClock(), product=product)
    click.echo(f"simulated {product} site at {simulator.site.product_url}")
    click.echo(f"serve apps with PLEDGE_CONNECT_INSTALL_KEYS_URL={simulator.install_keys_url}")
    uvicorn.run(simulator.site.asgi(), host=host, port=port, log_config=None, server_header=False)


@sim.command()
@click.argument("descriptor_url")
@_sim_option
def install(descriptor_url: str, sim_url: str) -> None:
    """Install (or re-install) the app whose descriptor is at DESCRIPTOR_URL, then enable it."""
    result = _control(sim_url, "POST", "/install", {"descriptorUrl": descriptor_url})
    click.echo(f"installed {result['appKey']} on {result['baseUrl']} (clientKey {result['clientKey']}), enabled")


def _lifecycle_command(action: str) -> click.Command:
    @click.argument("app_key")
    @_sim_option
    def command(app_key: str, sim_url: str) -> None:
        _control(sim_url, "POST", f"/apps/{app_key}/lifecycle/{action}")
        click.echo(f"{action}d {app_key}" if action.endswith("e") else f"{action}ed {app_key}")

    command.__doc__ = f"Send a signed `{action}` lifecycle call for APP_KEY."
    return click.command(name=action)(command)


for _action in ("enable", "disable", "uninstall"):
    sim.add_command(_lifecycle_command(_action))


@sim.command()
@click.argument("app_key")
@click.option("--event", default="jira:issue_updated", show_default=True)
@click.option("--issue", "issue_key", default="SIM-1", show_default=True, help="Issue the event is about.")
@_sim_option
def webhook(app_key: str, event: str, issue_key: str, sim_url: str) -> None:
    """Send APP_KEY a webhook signed with its shared secret."""
    result = _control(sim_url, "POST", f"/apps/{app_key}/webhook", {"event": event, "issueKey": issue_key})
    click.echo(f"{event} for {issue_key} -> {result['status']} {result['body']}".rstrip())
    if result["status"] >= 300:
        raise SystemExit(1)


@sim.command()
@click.argument("app_key")
@click.argument("page_key")
@click.option("--issue", "issue_key", default="SIM-1", show_default=True, help="Issue in whose view the page opens.")
@_sim_option
def page(app_key: str, page_key: str, issue_key: str, sim_url: str) -> None:
    """Load PAGE_KEY of APP_KEY as the product's iframe would (a signed jwt parameter) and print it."""
    context = {"issue.key": issue_key, "project.key": issue_key.split("-")[0]}
    result = _control(sim_url, "POST", f"/apps/{app_key}/pages/{page_key}", {"context": context})
    click.echo(f"GET {result['url']} -> {result['status']}")
    click.echo(result["body"])
    if result["status"] >= 300:
        raise SystemExit(1)


@sim.command()
@_sim_option
def log(sim_url: str) -> None:
    """Print every request the site sent and received (tokens redacted)."""
    for entry in _control(sim_url, "GET", "/log"):
        arrow = "->" if entry["direction"] == "sent" else "<-"
        click.echo(f"{arrow} {entry['method']} {entry['url']} {entry['status']}")


def _control(sim_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = sim_url.rstrip("/") + CONTROL_PREFIX + path
    try:
        response = httpx.request(method, url, json=body, timeout=60.0)
    except httpx.HTTPError:
        raise PledgeError(f"no simulated site answers at {sim_url}: start one with `pledge sim serve`") from None
    try:
        result = response.json()
    except json.JSONDecodeError:
        raise PledgeError(f"{sim_url} is not a simulated site (it answered {response.status_code})") from None
    if response.status_code >= 400:
        raise PledgeError(str(result.get("error", response.status_code)) if isinstance(result, dict) else "failed")
    return result
