"""The Forge Remote walkthrough of README.md, runnable: ``.venv/bin/python -m examples.forge_notes.walkthrough``.

It starts the simulated Forge site and two ``pledge serve`` deployments of the Forge Notes app on loopback (US and
EU, each with its own SQLite database), then does what Forge does: installs the app, makes a UI call and an event
delivery with FITs, lets the app call Jira with the app token, and moves the tenant from US to EU.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from examples.forge_notes.app import APP_ID

from pledge.sim.forge_site import ForgeSite, Installation

ROOT = Path(__file__).resolve().parents[2]
APP_PATH = "/apps/forge-notes"
REGIONS = {"US": "us-east-1", "EU": "eu-west-1"}
_START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Deployment:
    """One regional ``pledge serve``: its Forge realm, URL and SQLite database file."""

    realm: str
    url: str
    database: Path

    @property
    def app(self) -> str:
        return self.url + APP_PATH


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def regional_deployments(
    forge: Mapping[str, str], root: Path, regions: Mapping[str, str] = REGIONS
) -> Iterator[dict[str, Deployment]]:
    """Run one ``pledge serve`` per realm, peers of each other, with ``forge``'s settings (a simulated Forge site's
    ``pledge_environment()``: its JWKS and REST API)."""
    ports = {realm: _free_port() for realm in regions}
    transfer_key = base64.b64encode(secrets.token_bytes(32)).decode()
    pledge = Path(sys.executable).with_name("pledge")
    with ExitStack() as stack:
        running: dict[str, Deployment] = {}
        for realm, region in regions.items():
            data = root / realm.lower()
            data.mkdir(parents=True, exist_ok=True)
            peers = ",".join(f"{other}=http://127.0.0.1:{port}" for other, port in ports.items() if other != realm)
            env = {
                **{name: value for name, value in os.environ.items() if not name.startswith("PLEDGE_")},
                "PYTHONPATH": str(ROOT),
                "PLEDGE_DATA_DIR": str(data),
                "PLEDGE_PORT": str(ports[realm]),
                "PLEDGE_REGION": region,
                "PLEDGE_APPS": "examples.forge_notes.app:app",
                **forge,
                "PLEDGE_FORGE_PEERS": peers,
                "PLEDGE_FORGE_TRANSFER_KEY": transfer_key,
                "PLEDGE_LOG_LEVEL": "WARNING",
            }
            with (data / "serve.log").open("wb") as log:
                process = subprocess.Popen([str(pledge), "serve"], env=env, cwd=ROOT, stderr=log)  # noqa: S603
            stack.callback(_stop, process)
            running[realm] = Deployment(realm, f"http://127.0.0.1:{ports[realm]}", data / "pledge.db")
            _wait_ready(running[realm], process)
        yield running


def _wait_ready(deployment: Deployment, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = deployment.database.with_name("serve.log").read_text()[-2000:]
            raise RuntimeError(f"pledge serve ({deployment.realm}) exited: {log}")
        try:
            if httpx.get(f"{deployment.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"pledge serve ({deployment.realm}) did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def migrate(
    site: ForgeSite, source: Deployment, installation: Installation, target: str, migration_id: str
) -> str:
    """Schedule and start a realm migration as Forge does, and poll ``/status`` until it is no longer running."""
    hooks = f"{source.app}/forge/realm"
    await site.call_hook(f"{hooks}/schedule", installation, {"migrationId": migration_id, "targetRealm": target})
    await site.call_hook(f"{hooks}/start", installation, {"migrationId": migration_id})
    for _ in range(400):
        answer = await site.call_hook(f"{hooks}/status", installation, {"migrationId": migration_id}, method="GET")
        status = answer.json()
        if status["status"] != "IN_PROGRESS":
            return str(status["status"]) + (f": {status['detail']}" if status.get("detail") else "")
        await asyncio.sleep(0.05)
    raise RuntimeError(f"migration {migration_id} is still running")


async def walkthrough(site: ForgeSite, us: Deployment, eu: Deployment) -> None:
    installation = site.new_installation()
    say = print
    attempts = await site.install(f"{us.app}/forge/lifecycle/installed", installation, redeliveries=1)
    say(f"1. installed trigger delivered {len(attempts)} times: {[a.status for a in attempts]} (one tenant in US)")
    answer = await site.invoke_remote(f"{us.app}/issue-summary", installation, {"issueKey": "SIM-1"}, principal="u-1")
    say(f"2. UI call; the app read SIM-1 with the user's token: {answer.json()}")
    await site.invoke_remote(f"{us.app}/notes", installation, {"issueKey": "SIM-1", "text": "ship it"}, principal="u-1")
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-2"}}
    attempts = await site.deliver_trigger(f"{us.app}/events/issue-created", installation, event)
    tokens = [call.token_kind for call in site.rest_calls]
    say(f"3. issue-created event delivered: {[a.status for a in attempts]}; product calls made with {tokens} tokens")
    notes = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")
    say(f"4. notes in US: {notes.json()['notes']}")
    say(f"5. realm migration US → EU: {await migrate(site, us, installation, 'EU', 'walkthrough-1')}")
    committed = await site.call_hook(f"{us.app}/forge/realm/commit", installation, {"migrationId": "walkthrough-1"})
    say(f"6. commit: {committed.json()['status']}")
    notes = await site.invoke_remote(f"{eu.app}/notes", installation, method="GET", principal="u-1")
    say(f"7. notes in EU: {notes.json()['notes']}")
    refused = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")
    say(f"8. US now answers {refused.status_code}: {refused.json()['message']}")


def main() -> None:
    site = ForgeSite(APP_ID)
    with tempfile.TemporaryDirectory(prefix="pledge-forge-") as scratch, site.serve() as forge_url:
        print(f"simulated Forge site at {forge_url}")
        with regional_deployments(site.pledge_environment(), Path(scratch)) as deployments:
            print(f"pledge serve US at {deployments['US'].url}, EU at {deployments['EU'].url}")
            asyncio.run(walkthrough(site, deployments["US"], deployments["EU"]))


if __name__ == "__main__":
    main()
