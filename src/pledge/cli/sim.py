"""``pledge sim``: a simulated Atlassian site on loopback, and the commands that make it act on an app (S11).

``pledge sim serve`` runs the site; the other subcommands ask the running site (through its control API) to
install a Connect app by its descriptor URL, send it webhooks, load its pages, and disable or uninstall it;
``pledge sim forge ...`` does what Forge does to a Forge Remote app.
"""

from __future__ import annotations

import socket

import click
import uvicorn

from pledge.cli.sim_control import control, echo_relayed, sim_option
from pledge.cli.sim_forge import forge
from pledge.clock import SystemClock
from pledge.config import is_loopback  # the one definition of loopback, shared with dev mode
from pledge.errors import ConfigurationError
from pledge.forge_config import ForgeConfig
from pledge.logs import configure_logging
from pledge.sim.server import build_simulator


@click.group()
def sim() -> None:
    """A simulated Atlassian Cloud site for development: install, webhooks, pages, Forge, REST."""


sim.add_command(forge)


@sim.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8100, show_default=True, type=int, help="Port to bind (0: any free port).")
@click.option("--product", type=click.Choice(["jira", "confluence"]), default="jira", show_default=True)
@click.option("--forge-app-id", metavar="ARI", help="Also be Forge to this app (its ForgeConfig app_id).")
def serve(host: str, port: int, product: str, forge_app_id: str | None) -> None:
    """Run the simulated site until interrupted."""
    if not is_loopback(host):
        raise ConfigurationError(f"--host {host!r}: the simulator has no authentication and binds loopback only")
    if forge_app_id is not None:
        _check_app_id(forge_app_id)
    configure_logging("INFO")
    # Bound before the site is built: its URLs (install keys, JWKS, apiBaseUrl) name the port, even a picked one.
    try:
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    simulator = build_simulator(
        f"http://{host}:{sock.getsockname()[1]}", SystemClock(), product=product, forge_app_id=forge_app_id
    )
    click.echo(f"simulated {product} site at {simulator.site.product_url}")
    click.echo(f"serve apps with PLEDGE_CONNECT_INSTALL_KEYS_URL={simulator.connect.install_keys_url}")
    if simulator.forge is not None:
        environment = " ".join(f"{name}={value}" for name, value in simulator.forge.pledge_environment().items())
        click.echo(f"serve Forge apps with {environment}")
    config = uvicorn.Config(simulator.site.asgi(), log_config=None, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _check_app_id(app_id: str) -> None:
    try:
        ForgeConfig(app_id=app_id)
    except ValueError as exc:
        raise ConfigurationError(f"--forge-app-id: {exc}") from None


@sim.command()
@click.argument("descriptor_url")
@sim_option
def install(descriptor_url: str, sim_url: str) -> None:
    """Install (or re-install) the app whose descriptor is at DESCRIPTOR_URL, then enable it."""
    result = control(sim_url, "POST", "/install", {"descriptorUrl": descriptor_url})
    click.echo(f"installed {result['appKey']} on {result['baseUrl']} (clientKey {result['clientKey']}), enabled")


def _lifecycle_command(action: str) -> click.Command:
    @click.argument("app_key")
    @sim_option
    def command(app_key: str, sim_url: str) -> None:
        control(sim_url, "POST", f"/apps/{app_key}/lifecycle/{action}")
        click.echo(f"{action}d {app_key}" if action.endswith("e") else f"{action}ed {app_key}")

    command.__doc__ = f"Send a signed `{action}` lifecycle call for APP_KEY."
    return click.command(name=action)(command)


for _action in ("enable", "disable", "uninstall"):
    sim.add_command(_lifecycle_command(_action))


@sim.command()
@click.argument("app_key")
@click.option("--event", default="jira:issue_updated", show_default=True)
@click.option("--issue", "issue_key", default="SIM-1", show_default=True, help="Issue the event is about.")
@sim_option
def webhook(app_key: str, event: str, issue_key: str, sim_url: str) -> None:
    """Send APP_KEY a webhook signed with its shared secret."""
    result = control(sim_url, "POST", f"/apps/{app_key}/webhook", {"event": event, "issueKey": issue_key})
    click.echo(f"{event} for {issue_key} -> {result['status']} {result['body']}".rstrip())
    if result["status"] >= 300:
        raise SystemExit(1)


@sim.command()
@click.argument("app_key")
@click.argument("page_key")
@click.option("--issue", "issue_key", default="SIM-1", show_default=True, help="Issue in whose view the page opens.")
@sim_option
def page(app_key: str, page_key: str, issue_key: str, sim_url: str) -> None:
    """Load PAGE_KEY of APP_KEY as the product's iframe would (a signed jwt parameter) and print it."""
    context = {"issue.key": issue_key, "project.key": issue_key.split("-")[0]}
    result = control(sim_url, "POST", f"/apps/{app_key}/pages/{page_key}", {"context": context})
    echo_relayed("GET", result)


@sim.group()
def account() -> None:
    """Atlassian accounts as the personal data reporting API reports them (docs/personal-data-reporting.md)."""


def _account_command(action: str, done: str) -> click.Command:
    @click.argument("account_id")
    @sim_option
    def command(account_id: str, sim_url: str) -> None:
        control(sim_url, "POST", f"/accounts/{account_id}/{action}")
        click.echo(f"account {done}: the reporting API answers it {done} from now on")

    command.__doc__ = f"Mark ACCOUNT_ID {done}, as Atlassian's personal data reporting API will report it."
    return click.command(name=action)(command)


account.add_command(_account_command("close", "closed"))
account.add_command(_account_command("update", "updated"))


@sim.command()
@click.option("--throttle", type=click.IntRange(0, 10_000), help="Answer the next N reports 429.")
@click.option("--retry-after", type=click.IntRange(0, 10_000), help="The Retry-After of those 429s, in seconds.")
@click.option("--fail", type=click.IntRange(0, 10_000), help="Answer the next N reports 503.")
@click.option("--cycle-period", type=click.IntRange(1, 10_000), help="The Cycle-Period header, in days.")
@sim_option
def reporting(
    throttle: int | None, retry_after: int | None, fail: int | None, cycle_period: int | None, sim_url: str
) -> None:
    """Show (and with options, change) how the personal data reporting API answers."""
    changes = {"throttle": throttle, "retryAfter": retry_after, "fail": fail, "cyclePeriod": cycle_period}
    chosen = {name: value for name, value in changes.items() if value is not None}
    state = control(sim_url, "POST", "/reporting", chosen) if chosen else control(sim_url, "GET", "/reporting")
    click.echo(" ".join(f"{name}={value}" for name, value in state.items()))


@sim.command()
@sim_option
def log(sim_url: str) -> None:
    """Print every request the site sent and received (tokens redacted)."""
    for entry in control(sim_url, "GET", "/log"):
        arrow = "->" if entry["direction"] == "sent" else "<-"
        credential = f" ({entry['credential']})" if entry.get("credential") else ""
        click.echo(f"{arrow} {entry['method']} {entry['url']} {entry['status']}{credential}")
