"""Done when: a Forge app served by two `pledge serve` deployments (US, EU) is installed through the simulated
Forge site, handles a UI call and an event, calls the product with the app token, and moves between regions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from examples.forge_notes.app import APP_ID
from examples.forge_notes.walkthrough import ROOT, Deployment, regional_deployments
from examples.forge_notes.walkthrough import migrate as _migrate
from sqlalchemy import create_engine, text

from pledge.sim.forge_site import ForgeSite, Installation


def _count(deployment: Deployment, table: str, column: str, value: str) -> int:
    engine = create_engine(f"sqlite:///{deployment.database}")
    try:
        with engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {table} WHERE {column} = :v")  # noqa: S608
            return int(connection.execute(query, {"v": value}).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def site() -> Iterator[ForgeSite]:
    forge = ForgeSite(APP_ID)
    with forge.serve():
        yield forge


@pytest.fixture(scope="module")
def deployments(site: ForgeSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment]]:
    with regional_deployments(site.pledge_environment(), tmp_path_factory.mktemp("regions")) as running:
        yield running


async def test_install_call_event_product_and_move_to_another_region(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    installation = site.new_installation()
    attempts = await site.install(f"{us.app}/forge/lifecycle/installed", installation, redeliveries=1)
    assert [a.status for a in attempts] == [200, 200]

    summary = await site.invoke_remote(f"{us.app}/issue-summary", installation, {"issueKey": "SIM-1"}, principal="u-1")
    assert summary.json() == {"summary": "Printer on fire", "status": "In Progress"}
    note = await site.invoke_remote(
        f"{us.app}/notes", installation, {"issueKey": "SIM-1", "text": "ship it"}, principal="u-1"
    )
    assert note.status_code == 200
    event = {"eventType": "avi:jira:created:issue", "issue": {"key": "SIM-2"}}
    assert [a.status for a in await site.deliver_trigger(f"{us.app}/events/issue-created", installation, event)] == [
        200
    ]
    expected = {
        "notes": [
            {"issueKey": "SIM-1", "text": "ship it"},
            {"issueKey": "SIM-2", "text": "created: Coffee machine descales itself at 3 am"},
        ]
    }
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
        ("store_records", "tenant_id"),
        ("forge_installations", "tenant_id"),
    ):
        assert _count(us, table, column, tenant_id) == 0, table
        assert _count(eu, table, column, tenant_id) >= 1, table
    # The source's backups keep the departure, so that no backup made there before the move brings the site back.
    assert len(list((us.database.parent / "backups" / "departed" / tenant_id).iterdir())) == 1
    moved = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-1")
    assert moved.status_code == 421
    assert moved.json()["message"].startswith("this tenant's data is pinned to EU; this deployment serves us-east-1")


async def test_rollback_restores_the_source_and_leaves_nothing_at_the_destination(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    installation, tenant_id = await _ready_to_move(site, us, "migration-2", {"issueKey": "SIM-3", "text": "stay"})
    assert _count(eu, "store_records", "tenant_id", tenant_id) == 1

    rolled_back = await site.call_hook(f"{us.app}/forge/realm/rollback", installation, {"migrationId": "migration-2"})
    assert rolled_back.json()["status"] == "ROLLED_BACK", rolled_back.text
    for table, column in (
        ("tenants", "id"),
        ("data_keys", "tenant_id"),
        ("store_records", "tenant_id"),
    ):
        assert _count(eu, table, column, tenant_id) == 0, table
    notes = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-move")
    assert notes.json() == {"notes": [{"issueKey": "SIM-3", "text": "stay"}]}
    again = await site.call_hook(f"{us.app}/forge/realm/commit", installation, {"migrationId": "migration-2"})
    assert (again.status_code, again.json()["error"]) == (409, "migration_state_conflict")
    assert "ROLLED_BACK" in again.json()["message"]


async def test_a_commit_whose_departure_cannot_be_recorded_deletes_nothing_and_its_retry_finishes_it(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    note = {"issueKey": "SIM-5", "text": "keep"}
    installation, tenant_id = await _ready_to_move(site, us, "migration-blocked-departure", note)
    departed = us.database.parent / "backups" / "departed"
    departed.mkdir(parents=True, exist_ok=True)
    blocker = departed / tenant_id  # a file where the tenant's tombstone folder goes: the target cannot write it
    blocker.write_bytes(b"")
    commit = f"{us.app}/forge/realm/commit"
    try:
        refused = await site.call_hook(commit, installation, {"migrationId": "migration-blocked-departure"})
        assert (refused.status_code, refused.json()["error"]) == (503, "backup_target_unavailable"), refused.text
        assert _count(us, "store_records", "tenant_id", tenant_id) == 1  # nothing deleted at the source
    finally:
        blocker.unlink()

    committed = await site.call_hook(
        commit, installation, {"migrationId": "migration-blocked-departure"}
    )  # Forge's retry
    assert committed.json()["status"] == "COMMITTED", committed.text
    assert _count(us, "store_records", "tenant_id", tenant_id) == 0
    assert _count(eu, "store_records", "tenant_id", tenant_id) == 1
    assert len(list((departed / tenant_id).iterdir())) == 1


async def test_another_installation_can_neither_see_nor_drive_a_migration(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us = deployments["US"]
    hooks = f"{us.app}/forge/realm"
    a, b = site.new_installation(), site.new_installation()
    for installation in (a, b):
        await site.install(f"{us.app}/forge/lifecycle/installed", installation)
    await site.call_hook(f"{hooks}/schedule", a, {"migrationId": "migration-3", "targetRealm": "EU"})

    for step, method in (("schedule", "POST"), ("start", "POST"), ("status", "GET"), ("commit", "POST")):
        body = {"migrationId": "migration-3", "targetRealm": "EU"}
        theirs = await site.call_hook(f"{hooks}/{step}", b, body, method=method)
        if step == "schedule":
            assert (theirs.status_code, theirs.json()["error"]) == (409, "migration_id_taken")
            continue
        unknown = await site.call_hook(f"{hooks}/{step}", b, {**body, "migrationId": "migration-x"}, method=method)
        assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json()) == (404, theirs.json())
        assert theirs.json()["error"] == "migration_unknown"
    theirs = await site.call_hook(f"{hooks}/rollback", b, {"migrationId": "migration-3"})
    assert (theirs.status_code, theirs.json()["error"]) == (404, "migration_unknown")

    assert (await site.invoke_remote(f"{us.app}/notes", a, method="GET", principal="u-3")).status_code == 200
    status = await site.call_hook(f"{hooks}/status", a, {"migrationId": "migration-3"}, method="GET")
    assert status.json() == {"migrationId": "migration-3", "status": "SCHEDULED"}
    assert await _migrate(site, us, a, "EU", "migration-3") == "READY"
    rolled_back = await site.call_hook(f"{hooks}/rollback", a, {"migrationId": "migration-3"})
    assert rolled_back.json()["status"] == "ROLLED_BACK"


async def test_a_failed_migration_is_rolled_back_and_the_tenant_served_again(
    site: ForgeSite, deployments: dict[str, Deployment]
) -> None:
    us, eu = deployments["US"], deployments["EU"]
    installation = site.new_installation()
    await site.install(f"{us.app}/forge/lifecycle/installed", installation)
    await site.invoke_remote(f"{us.app}/notes", installation, {"issueKey": "SIM-4", "text": "kept"}, principal="u-4")
    await site.install(f"{eu.app}/forge/lifecycle/installed", installation)  # EU already knows this installation

    failed = await _migrate(site, us, installation, "EU", "migration-4")
    assert failed == "FAILED: the EU deployment refused import: 409"
    locked = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-4")
    assert locked.status_code == 409

    for _ in range(2):
        rolled_back = await site.call_hook(
            f"{us.app}/forge/realm/rollback", installation, {"migrationId": "migration-4"}
        )
        assert (rolled_back.status_code, rolled_back.json()["status"]) == (200, "ROLLED_BACK"), rolled_back.text
    notes = await site.invoke_remote(f"{us.app}/notes", installation, method="GET", principal="u-4")
    assert (notes.status_code, notes.json()) == (200, {"notes": [{"issueKey": "SIM-4", "text": "kept"}]})


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


async def _ready_to_move(
    site: ForgeSite, us: Deployment, migration_id: str, note: dict[str, object]
) -> tuple[Installation, str]:
    """A new installation on the US deployment holding one note, its migration to EU ``READY``; its tenant id."""
    installation = site.new_installation()
    await site.install(f"{us.app}/forge/lifecycle/installed", installation)
    await site.invoke_remote(f"{us.app}/notes", installation, note, principal="u-move")
    tenant_id = _tenant_id(us, installation)
    assert await _migrate(site, us, installation, "EU", migration_id) == "READY"
    return installation, tenant_id


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


def test_the_readme_walkthrough_runs() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "examples.forge_notes.walkthrough"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT)},
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert "5. realm migration US → EU: READY" in lines
    assert lines[-1].startswith("8. US now answers 421: this tenant's data is pinned to EU")
