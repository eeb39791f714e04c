"""Done when: a Forge app served by two `pledge serve` deployments (US, EU) is installed through the simulated
Forge site, handles a UI call and an event, calls the product with the app token, and moves between regions."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from examples.forge_notes.app import APP_ID
from sqlalchemy import create_engine, text

from pledge.sim.forge import ForgeSite, Installation

ROOT = Path(__file__).resolve().parents[2]
PLEDGE = Path(sys.executable).with_name("pledge")


@dataclass
class Deployment:
    region: str
    url: str
    database: Path

    @property
    def app(self) -> str:
        return f"{self.url}/apps/forge-notes"

    def count(self, table: str, column: str, value: str) -> int:
        engine = create_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as connection:
                query = text(f"SELECT count(*) FROM {table} WHERE {column} = :v")  # noqa: S608
                return int(connection.execute(query, {"v": value}).scalar_one())
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pledge serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"pledge serve at {url} did not become ready")


@pytest.fixture(scope="module")
def site() -> Iterator[ForgeSite]:
    forge = ForgeSite(APP_ID)
    with forge.serve():
        yield forge


@pytest.fixture(scope="module")
def deployments(site: ForgeSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment]]:
    ports = {"US": _free_port(), "EU": _free_port()}
    regions = {"US": "us-east-1", "EU": "eu-west-1"}
    transfer_key = base64.b64encode(secrets.token_bytes(32)).decode()
    processes: list[subprocess.Popen[bytes]] = []
    running: dict[str, Deployment] = {}
    try:
        for realm, port in ports.items():
            data = tmp_path_factory.mktemp(realm.lower())
            other = "EU" if realm == "US" else "US"
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")},
                "PYTHONPATH": str(ROOT),
                "PLEDGE_DATA_DIR": str(data),
                "PLEDGE_PORT": str(port),
                "PLEDGE_REGION": regions[realm],
                "PLEDGE_APPS": "examples.forge_notes.app:app",
                "PLEDGE_FORGE_JWKS_URL": site.jwks_url,
                "PLEDGE_ATLASSIAN_API_URL": site.base_url,
                "PLEDGE_FORGE_PEERS": f"{other}=http://127.0.0.1:{ports[other]}",
                "PLEDGE_FORGE_TRANSFER_KEY": transfer_key,
                "PLEDGE_LOG_LEVEL": "WARNING",
            }
            log = (data / "serve.log").open("wb")
            process = subprocess.Popen([str(PLEDGE), "serve"], env=env, cwd=ROOT, stderr=log)
            log.close()
            processes.append(process)
            running[realm] = Deployment(regions[realm], f"http://127.0.0.1:{port}", data / "pledge.db")
        for deployment, process in zip(running.values(), processes, strict=True):
            _wait_ready(deployment.url, process, deployment.database.with_name("serve.log"))
        yield running
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


async def _migrate(
    site: ForgeSite, source: Deployment, installation: Installation, target: str, migration_id: str
) -> str:
    hooks = f"{source.app}/forge/realm"
    schedule = await site.call_hook(
        f"{hooks}/schedule", installation, {"migrationId": migration_id, "targetRealm": target}
    )
    assert schedule.json()["status"] == "SCHEDULED", schedule.text
    started = await site.call_hook(f"{hooks}/start", installation, {"migrationId": migration_id})
    assert started.json()["status"] in ("IN_PROGRESS", "READY"), started.text
    for _ in range(200):
        status = (
            await site.call_hook(f"{hooks}/status", installation, {"migrationId": migration_id}, method="GET")
        ).json()
        if status["status"] != "IN_PROGRESS":
            return str(status["status"]) if status["status"] != "FAILED" else f"FAILED: {status.get('detail')}"
        await asyncio.sleep(0.05)
    raise AssertionError("the migration did not finish")


async def test_install_call_event_product_and_move_to_another_region(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    installation = site.new_installation()
    attempts = await site.install(f"{us.app}/forge/lifecycle/installed", installation, redeliveries=1)
    assert [a.status for a in attempts] == [200, 200]

    summary = await site.invoke_remote(f"{us.app}/issue-summary", installation, {"issueKey": "DEMO-1"}, principal="u-1")
    assert summary.json() == {"summary": "The first issue", "viewer": True}
    note = await site.invoke_remote(
        f"{us.app}/notes", installation, {"issueKey": "DEMO-1", "text": "ship it"}, principal="u-1"
    )
    assert note.status_code == 200
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "DEMO-7"}}
    assert [a.status for a in await site.deliver_trigger(f"{us.app}/events/issue-created", installation, event)] == [
        200
    ]
    expected = {"notes": [{"issueKey": "DEMO-1", "text": "ship it"}, {"issueKey": "DEMO-7", "text": "created"}]}
    assert (await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")).json() == expected
    tenant_id = _tenant_id(us, installation)

    assert await _migrate(site, us, installation, "EU", "migration-1") == "READY"
    locked = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")
    assert (locked.status_code, locked.json()["error"]) == (409, "migration_in_progress")
    inert = await site.invoke_remote(f"{eu.app}/notes", installation, method="GET", principal="u-1")
    assert (inert.status_code, inert.json()["error"]) == (421, "pinned_elsewhere")

    committed = await site.call_hook(f"{us.app}/forge/realm/commit", installation, {"migrationId": "migration-1"})
    assert committed.json()["status"] == "COMMITTED", committed.text
    assert (await site.invoke_remote(f"{eu.app}/notes", installation, method="GET", principal="u-1")).json() == expected
    for table, column in (
        ("tenants", "id"),
        ("data_keys", "tenant_id"),
        ("forge_notes", "tenant_id"),
        ("forge_installations", "tenant_id"),
    ):
        assert us.count(table, column, tenant_id) == 0, table
        assert eu.count(table, column, tenant_id) >= 1, table
    moved = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")
    assert moved.status_code == 421
    assert moved.json()["message"].startswith("this tenant's data is pinned to EU; this deployment serves us-east-1")


async def test_rollback_restores_the_source_and_leaves_nothing_at_the_destination(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    installation = site.new_installation()
    await site.install(f"{us.app}/forge/lifecycle/installed", installation)
    await site.invoke_remote(f"{us.app}/notes", installation, {"issueKey": "DEMO-3", "text": "stay"}, principal="u-2")
    tenant_id = _tenant_id(us, installation)
    assert await _migrate(site, us, installation, "EU", "migration-2") == "READY"
    assert eu.count("forge_notes", "tenant_id", tenant_id) == 1

    rolled_back = await site.call_hook(f"{us.app}/forge/realm/rollback", installation, {"migrationId": "migration-2"})
    assert rolled_back.json()["status"] == "ROLLED_BACK", rolled_back.text
    for table, column in (("tenants", "id"), ("data_keys", "tenant_id"), ("forge_notes", "tenant_id")):
        assert eu.count(table, column, tenant_id) == 0, table
    notes = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-2")
    assert notes.json() == {"notes": [{"issueKey": "DEMO-3", "text": "stay"}]}
    again = await site.call_hook(f"{us.app}/forge/realm/commit", installation, {"migrationId": "migration-2"})
    assert again.status_code == 400 and "ROLLED_BACK" in again.json()["message"]


async def test_peer_endpoints_refuse_what_is_not_sealed_with_the_transfer_key(
    deployments: dict[str, Deployment],
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{deployments['EU'].app}/forge/realm/peer/import",
            content=b"\x00" * 64,
            headers={"x-pledge-migration": "forged"},
        )
    assert (response.status_code, response.json()["error"]) == (401, "transfer_unauthentic")


def _tenant_id(deployment: Deployment, installation: Installation) -> str:
    engine = create_engine(f"sqlite:///{deployment.database}")
    try:
        with engine.connect() as connection:
            return str(
                connection.execute(
                    text("SELECT id FROM tenants WHERE installation_id = :i"), {"i": installation.installation_id}
                ).scalar_one()
            )
    finally:
        engine.dispose()
