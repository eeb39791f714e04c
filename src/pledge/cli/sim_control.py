"""How ``pledge sim`` commands reach the running simulated site: its control API, one JSON request each (S11)."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx

from pledge.errors import PledgeError
from pledge.sim.control import CONTROL_PREFIX

DEFAULT_SIM_URL = "http://127.0.0.1:8100"
CONTROL_TIMEOUT_SECONDS = 60.0
"""Longer than any one control action: a trigger delivered five times, each allowed Forge's 5 s, fits easily."""

sim_option = click.option(
    "--sim", "sim_url", default=DEFAULT_SIM_URL, show_default=True, help="URL of the running `pledge sim serve`."
)


def control(sim_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The control API's JSON answer; its error, or the site's absence, as a one-line PledgeError."""
    url = sim_url.rstrip("/") + CONTROL_PREFIX + path
    try:
        response = httpx.request(method, url, json=body, timeout=CONTROL_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        raise PledgeError(f"no simulated site answers at {sim_url}: start one with `pledge sim serve`") from None
    try:
        result = response.json()
    except json.JSONDecodeError:
        raise PledgeError(f"{sim_url} is not a simulated site (it answered {response.status_code})") from None
    if response.status_code >= 400:
        raise PledgeError(str(result.get("error", response.status_code)) if isinstance(result, dict) else "failed")
    return result


def echo_relayed(method: str, result: dict[str, Any]) -> None:
    """Print an app's answer the simulator relayed (request line, then body); exit 1 when it is not a success."""
    click.echo(f"{method} {result['url']} -> {result['status']}")
    click.echo(result["body"])
    if result["status"] >= 300:
        raise SystemExit(1)
