"""Done when: an app served by `pledge serve` is installed through `pledge sim serve`'s Forge side, handles a UI
call and an event with verified FITs, calls the simulated Jira with the app token, and is uninstalled — driven by
`pledge sim forge ...` from another process, over real HTTP."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from click.testing import CliRunner, Result
from examples.forge_notes.app import APP_ID
from examples.forge_notes.walkthrough import ROOT, Deployment, regional_deployments

from pledge.cli import cli
from pledge.clock import SystemClock
from pledge.sim.loopback import serve_on_loopback
from pledge.sim.server import build_simulator

_FORGE_LINE = "serve Forge apps with "


@dataclass(frozen=True)
class RunningSim:
    url: str
    pledge_environment: dict[str, str]


@contextmanager
def sim_serve(*options: str) -> Iterator[RunningSim]:
    """A real `pledge sim serve --port 0` process; its URL and settings read from what it prints."""
    pledge = Path(sys.executable).with_name("pledge")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(pledge), "sim", "serve", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url, environment = "", {}
        for line in process.stdout:
            if line.startswith("simulated jira site at "):
                url = line.split()[-1]
            if line.startswith(_FORGE_LINE):
                environment = dict(pair.split("=", 1) for pair in line.removeprefix(_FORGE_LINE).split())
                break
        assert url and environment, "pledge sim serve did not print its Forge settings"
        yield RunningSim(url, environment)  # its socket listens already: requests wait until it accepts
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    with sim_serve("--forge-app-id", APP_ID) as running:
        yield running


@pytest.fixture(scope="module")
def app(sim: RunningSim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`pledge serve --app examples.forge_notes.app:app` with the settings the simulator printed."""
    with regional_deployments(sim.pledge_environment, tmp_path_factory.mktemp("forge"), {"US": "us-east-1"}) as one:
        yield one["US"]


def pledge(sim: RunningSim, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--sim", sim.url])


def succeeds(sim: RunningSim, *args: str) -> str:
    result = pledge(sim, *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_install_ui_call_event_product_call_and_uninstall(sim: RunningSim, app: Deployment) -> None:
    installed = succeeds(sim, "sim", "forge", "install", app.app, "--redeliver", "1")
    installation_id = re.search(r"^installation (\S+)$", installed, re.MULTILINE)
    cloud_id = re.search(r"^cloudId (\S+) ", installed, re.MULTILINE)
    assert installation_id and cloud_id, installed
    assert installed.splitlines()[-2:] == [
        "avi:forge:installed:app: attempt 1 -> 200",
        "avi:forge:installed:app: attempt 2 (retryCount 1, FUNCTION_ERROR) -> 200",
    ]
    installation = installation_id[1]

    summary = succeeds(
        sim, "sim", "forge", "invoke", installation, "/issue-summary", "--payload", '{"issueKey": "SIM-1"}'
    )
    assert summary.splitlines() == [
        f"POST {app.app}/issue-summary -> 200",
        '{"summary":"Printer on fire","status":"In Progress"}',
    ]

    created = ("--event", "avi:jira:created:issue", "--issue", "SIM-2")
    event = succeeds(sim, "sim", "forge", "event", installation, "/events/issue-created", *created)
    assert event.strip().endswith("attempt 1 -> 200")
    notes = succeeds(sim, "sim", "forge", "invoke", installation, "/notes", "--method", "GET")
    assert '"created: Coffee machine descales itself at 3 am"' in notes

    log = succeeds(sim, "sim", "log")
    api = f"{sim.url}/ex/jira/{cloud_id[1]}/rest/api/3/issue"
    assert f"<- GET {api}/SIM-1 200 (user token)" in log.splitlines()  # the UI call read it as the user
    assert f"<- GET {api}/SIM-2 200 (app token)" in log.splitlines()  # the event handler, as the app
    assert f"-> POST {app.app}/issue-summary 200 (FIT + app token + user token)" in log.splitlines()
    assert "eyJ" not in log  # no token is ever printed

    in_flight = succeeds(sim, "sim", "forge", "fit", installation).strip()  # minted before the uninstall
    assert succeeds(sim, "sim", "forge", "uninstall", installation).strip() == "preUninstall: attempt 1 -> 200"
    not_called = pledge(sim, "sim", "forge", "invoke", installation, "/notes", "--method", "GET")
    assert not_called.exit_code == 1
    assert not_called.output == (
        f"pledge: installation {installation} was uninstalled: Forge no longer calls the app for it;"
        " install the app again with `pledge sim forge install`\n"
    )
    late = httpx.get(f"{app.app}/notes", headers={"authorization": f"Bearer {in_flight}"})
    assert late.status_code == 403 and late.json()["error"] == "tenant_inactive"


def test_a_printed_fit_works_by_hand_and_carries_the_principal(sim: RunningSim, app: Deployment) -> None:
    installed = succeeds(sim, "sim", "forge", "install", app.app, "--license", "inactive")
    installation = installed.split()[1]
    fit = succeeds(sim, "sim", "forge", "fit", installation, "--principal", "u-42").strip()
    by_hand = httpx.get(f"{app.app}/notes", headers={"authorization": f"Bearer {fit}"})
    assert (by_hand.status_code, by_hand.json()) == (200, {"notes": []})  # an inactive license is no refusal
    claims = jwt.decode(fit, options={"verify_signature": False})
    assert claims["principal"] == "u-42" and claims["app"]["installationId"] == installation
    assert claims["app"]["license"] == {"active": False, "isActive": False}
    backend = succeeds(sim, "sim", "forge", "fit", installation, "--without-context").strip()
    claims = jwt.decode(backend, options={"verify_signature": False})
    assert "context" not in claims and "principal" not in claims  # a backend function's call (requestRemote)
    served = httpx.get(f"{app.app}/notes", headers={"authorization": f"Bearer {backend}"})
    assert served.status_code == 200


def test_an_unknown_installation_is_refused_in_one_line(sim: RunningSim) -> None:
    result = pledge(sim, "sim", "forge", "invoke", "ari:cloud:ecosystem::installation/nope", "/notes")
    assert result.exit_code == 1
    assert result.output == (
        "pledge: no Forge installation 'ari:cloud:ecosystem::installation/nope' here: "
        "run `pledge sim forge install` first\n"
    )


def test_an_app_that_does_not_answer_is_refused_in_one_line(sim: RunningSim) -> None:
    port = _closed_port()
    result = pledge(sim, "sim", "forge", "install", f"http://127.0.0.1:{port}/apps/forge-notes")
    assert result.exit_code == 1
    assert result.output == (
        f"pledge: http://127.0.0.1:{port}/apps/forge-notes/forge/lifecycle/installed did not answer (ConnectError): "
        "is the app served there?\n"
    )


def test_a_payload_that_is_not_json_is_refused_before_anything_is_sent() -> None:
    result = CliRunner().invoke(cli, ["sim", "forge", "invoke", "i", "/notes", "--payload", "{x", "--sim", "http://x"])
    assert result.exit_code == 1
    assert result.output.startswith("pledge: --payload is not JSON (") and result.output.count("\n") == 1


def test_without_a_running_simulator_the_command_says_how_to_start_one() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(cli, ["sim", "forge", "uninstall", "i", "--sim", url])
    assert result.exit_code == 1
    assert result.output == f"pledge: no simulated site answers at {url}: start one with `pledge sim serve`\n"


def test_a_simulator_without_a_forge_app_says_how_to_start_one() -> None:
    with serve_on_loopback(lambda url: build_simulator(url, SystemClock()).site.asgi()) as url:
        result = CliRunner().invoke(cli, ["sim", "forge", "install", "http://127.0.0.1:1/apps/x", "--sim", url])
    assert result.exit_code == 1
    assert "restart it with `pledge sim serve --forge-app-id`" in result.output


def test_a_malformed_forge_app_id_is_refused() -> None:
    result = CliRunner().invoke(cli, ["sim", "serve", "--port", "0", "--forge-app-id", "forge-notes"])
    assert result.exit_code == 2
    assert result.output.startswith("pledge: --forge-app-id: Forge app id 'forge-notes' must look like")


def test_the_readme_forge_walkthrough_uses_commands_the_cli_accepts() -> None:
    commands = _readme_commands("## Forge Remote apps")
    assert len(commands) >= 8
    for words in commands:
        result = CliRunner().invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, f"pledge {shlex.join(words)}: {result.output}"


def _readme_commands(section: str) -> list[list[str]]:
    """The `pledge ...` lines of the first shell block after ``section``, as words after `pledge`."""
    text = (ROOT / "README.md").read_text().split(section, 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words.pop(0)  # environment assignments before the command
        if words and words[0] == "pledge":
            commands.append(words[1:])
    return commands


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # bound, never listening: nothing answers there
