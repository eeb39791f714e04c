"""``pledge sim forge``: the running simulated site does to a Forge Remote app what Forge does (S11).

Each command asks ``pledge sim serve --forge-app-id ARI`` to act: install the app served at a URL (the
``avi:forge:installed:app`` trigger), call its endpoints as ``invokeRemote`` does, deliver events with Forge's
timeout and retries, uninstall it (``preUninstall``), or mint a FIT to try an endpoint by hand.
"""

from __future__ import annotations

import json
from typing import Any

import click

from pledge.cli.sim_control import control, echo_relayed, sim_option
from pledge.errors import PledgeError
from pledge.sim.forge_control import DEFAULT_ACCOUNT_ID, DEFAULT_EVENT
from pledge.sim.forge_site import TRIGGER_TIMEOUT_SECONDS

_installation_argument = click.argument("installation_id")


@click.group()
def forge() -> None:
    """Be Forge to a Forge Remote app: install it, invoke it, send it events (needs `sim serve --forge-app-id`)."""


@forge.command()
@click.argument("app_url")
@click.option("--license", "license_state", type=click.Choice(["active", "inactive"]), default="active")
@click.option("--redeliver", default=0, type=click.IntRange(0, 4), help="Deliver again after success (lost acks).")
@sim_option
def install(app_url: str, license_state: str, redeliver: int, sim_url: str) -> None:
    """Install the app Pledge serves at APP_URL (e.g. http://127.0.0.1:8000/apps/forge-notes) on a new site."""
    body = {"appUrl": app_url, "licenseActive": license_state == "active", "redeliveries": redeliver}
    result = control(sim_url, "POST", "/forge/install", body)
    click.echo(f"installation {result['installationId']}")
    click.echo(f"cloudId {result['cloudId']} ({result['siteUrl']})")
    _report_attempts("avi:forge:installed:app", result["attempts"])


@forge.command()
@_installation_argument
@click.argument("path")
@click.option("--payload", help="JSON body of the call.")
@click.option("--method", default="POST", show_default=True, type=click.Choice(["GET", "POST", "PUT", "DELETE"]))
@click.option("--account-id", default=DEFAULT_ACCOUNT_ID, show_default=True, help="The FIT's principal.")
@sim_option
def invoke(installation_id: str, path: str, payload: str | None, method: str, account_id: str, sim_url: str) -> None:
    """Call PATH of the app as invokeRemote does: a FIT with a principal, app and user tokens."""
    body = {
        "installationId": installation_id,
        "path": path,
        "payload": _json(payload),
        "method": method,
        "accountId": account_id,
    }
    result = control(sim_url, "POST", "/forge/invoke", body)
    echo_relayed(method, result)


@forge.command()
@_installation_argument
@click.argument("path")
@click.option("--event", default=DEFAULT_EVENT, show_default=True)
@click.option("--issue", "issue_key", default="SIM-1", show_default=True, help="Issue the event is about.")
@sim_option
def event(installation_id: str, path: str, event: str, issue_key: str, sim_url: str) -> None:
    """Deliver EVENT to the trigger endpoint PATH as Forge does (5 s timeout, up to 4 retries)."""
    body = {"installationId": installation_id, "path": path, "event": event, "issueKey": issue_key}
    result = control(sim_url, "POST", "/forge/event", body)
    _report_attempts(f"{event} for {issue_key} to {result['url']}", result["attempts"])


@forge.command()
@_installation_argument
@sim_option
def uninstall(installation_id: str, sim_url: str) -> None:
    """Uninstall: call the app's preUninstall endpoint; the tenant's deletion grace starts."""
    result = control(sim_url, "POST", "/forge/uninstall", {"installationId": installation_id})
    _report_attempts("preUninstall", result["attempts"])


@forge.command()
@_installation_argument
@click.option("--principal", metavar="ACCOUNT_ID", help="A UI call's user; none for a trigger's FIT.")
@click.option(
    "--without-context",
    is_flag=True,
    help="No context claim (nor principal): a call from a backend function (requestRemote).",
)
@sim_option
def fit(installation_id: str, principal: str | None, without_context: bool, sim_url: str) -> None:
    """Print a fresh FIT for the installation (valid 25 s), e.g. for `curl -H "Authorization: Bearer ..."`."""
    if without_context and principal is not None:
        raise PledgeError("--without-context is a backend call's FIT: it has no --principal")
    body: dict[str, Any] = {"installationId": installation_id, "principal": principal}
    if without_context:
        body["context"] = False
    click.echo(control(sim_url, "POST", "/forge/fit", body)["fit"])


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PledgeError(f"--payload is not JSON ({exc.msg} at character {exc.pos})") from None


def _report_attempts(what: str, attempts: list[dict[str, Any]]) -> None:
    """One line per delivery; exit 1 unless the last one was acknowledged, as Forge would keep failing it."""
    for number, attempt in enumerate(attempts, start=1):
        retry = attempt["retryContext"]
        label = f"attempt {number}" + (f" (retryCount {retry['retryCount']}, {retry['retryReason']})" if retry else "")
        status = attempt["status"]
        answer = f"no answer within {TRIGGER_TIMEOUT_SECONDS:g} s" if status is None else str(status)
        click.echo(f"{what}: {label} -> {answer}")
    last = attempts[-1]["status"] if attempts else None
    if last is None or last >= 300:
        raise SystemExit(1)
