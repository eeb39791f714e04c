"""Issue #17 items 3 and 4: no retained backup brings a purged tenant back. Several sites with data, backups taken,
one site purged; then every retained backup is restored into a fresh database (the local shred ledger lost) from a
directory and from S3, with the KEK at hand: the purged site's data cannot be read, the others' is intact, and no
log line holds what the purged site stored. A realm migration's departure keeps the tenant out the same way."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from backup_corpus import Corpus
from bench.harness import free_port
from bench.seaweed import S3Server
from click.testing import CliRunner
from sqlalchemy import Engine, text
from tests.backup.test_s3_target import target
from tests.conftest import POSTGRES_URL

from pledge.backup.backup_format import BackupCorrupt, key_object
from pledge.backup.backups import Backups
from pledge.backup.restore import RestoreRefused, restore_all, restore_tenant
from pledge.backup.tombstones import Gone
from pledge.backup.writer import run_backup
from pledge.cli import cli
from pledge.cli.jobs import purger
from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.db import open_engine
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB
from pledge.runtime import Runtime
from pledge.serving import backups_for
from pledge.tenants.shred_ledger import ledger_entry, shredded_tenants
from pledge.tenants.timeline import DeletionCause
from pledge.vault import Vault

FreshDatabase = Callable[[], Engine]


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FreshDatabase]:
    """Empty databases of the engine under test: where a disaster recovery restores to."""
    engines: list[Engine] = []
    schemas: list[str] = []

    def make() -> Engine:
        if database_url.startswith("sqlite"):
            engine = open_engine(f"sqlite:///{tmp_path / f'fresh-{len(engines)}.db'}")
        else:
            name = f"pledge_test_{uuid.uuid4().hex[:12]}"
            with request.getfixturevalue("postgres_admin").connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
            schemas.append(name)
            engine = open_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{name}")
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
    for name in schemas:
        with request.getfixturevalue("postgres_admin").connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.fixture(params=["directory", "s3"])
def target_backups(request: pytest.FixtureRequest, runtime: Runtime) -> Backups:
    """The deployment's backups, in a directory (the runtime's default target) or in an S3 bucket."""
    backups = backups_for(runtime)
    if request.param == "directory":
        return backups
    server: S3Server = request.getfixturevalue("s3_server")
    return dataclasses.replace(backups, target=target(server, request.getfixturevalue("s3_bucket")))


def _purge(runtime: Runtime, backups: Backups, tenant_id: str) -> None:
    """The purge as `pledge purge` runs it, its backup step bound to ``backups``."""
    runtime.tenants.request_deletion(tenant_id, DeletionCause.OPERATOR, "proof test")
    assert _run_purge(runtime, backups) == "succeeded"


def _run_purge(runtime: Runtime, backups: Backups) -> str:
    """One run of the `tenant-purge` job, its backup step bound to ``backups``; its outcome."""
    purge = dataclasses.replace(purger(runtime), bury=lambda purged: backups.bury(purged, Gone.SHREDDED))
    return JobRunner(runtime.engine, runtime.clock, [purge.job()]).run_now(PURGE_JOB).outcome


def test_no_retained_backup_brings_a_purged_tenant_back(
    runtime: Runtime,
    clock: FrozenClock,
    target_backups: Backups,
    corpus: Corpus,
    fresh_database: FreshDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    purged, *kept = [tenant.id for tenant in corpus.tenants]
    run_backup(target_backups)
    clock.advance(timedelta(days=1))
    run_backup(target_backups)
    before = {tenant_id: runtime.tenant_data.export(tenant_id) for tenant_id in kept}

    _purge(runtime, target_backups, purged)
    assert target_backups.key_versions(purged) == []  # the purge deleted the target's copies of its keys
    assert target_backups.tombstones()[purged].gone is Gone.SHREDDED

    retained = target_backups.complete_ids()
    assert len(retained) == 2
    for backup_id in retained:
        manifest = target_backups.manifest(backup_id)
        assert purged in manifest.tenants  # both were made before the purge
        segment = manifest.segment(f"tenant-{purged}")
        assert target_backups.open_segment(manifest, segment) is None  # with the KEK: no key opens it
        with pytest.raises(RestoreRefused, match="tenant_data_shredded"):
            restore_tenant(target_backups, manifest, purged)
        fresh = fresh_database()
        report = restore_all(target_backups, manifest, fresh)
        assert sorted(report.tenants) == sorted(kept) and purged in report.shredded
        assert [tombstone.tenant_id for tombstone in report.left_out] == [purged]
        restored = dataclasses.replace(target_backups, engine=fresh).tenant_data.on(fresh)
        assert {tenant_id: restored.export(tenant_id) for tenant_id in kept} == before
        assert all(rows == [] for rows in restored.export(purged)["parts"].values())
        with fresh.connect() as connection:
            assert purged in shredded_tenants(connection)  # the restored database knows it, and keeps it out
        assert Vault(fresh, runtime.vault.keyring, clock=clock).is_shredded(purged)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert [needle for needle in corpus.needles if needle in logged] == []


def test_a_tombstone_keeps_a_tenant_out_even_where_a_copy_of_its_keys_survived(
    runtime: Runtime, target_backups: Backups, corpus: Corpus, fresh_database: FreshDatabase
) -> None:
    tenant_id = corpus.tenants[0].id
    manifest = run_backup(target_backups)
    copies = {v: target_backups.target.get(key_object(tenant_id, v)) for v in target_backups.key_versions(tenant_id)}
    _purge(runtime, target_backups, tenant_id)
    for version, data in copies.items():  # an old copy of the target put back: the tombstone is read first
        target_backups.target.put(key_object(tenant_id, version), data)
    report = restore_all(target_backups, manifest, fresh_database())
    assert tenant_id not in report.tenants and tenant_id in report.shredded


def test_a_departed_tenant_is_not_restored_at_the_source(
    clock: FrozenClock, target_backups: Backups, corpus: Corpus, fresh_database: FreshDatabase
) -> None:
    """At the source of a realm migration: a backup made before the move does not bring the tenant back here; one
    made after it came back (by another migration) does."""
    moved, *kept = [tenant.id for tenant in corpus.tenants]
    before = run_backup(target_backups)
    clock.advance(timedelta(hours=1))
    target_backups.bury(moved, Gone.DEPARTED, realm="EU")  # what the commit at the source does
    with pytest.raises(RestoreRefused, match=r"moved to realm EU .*\(pinned_elsewhere\)"):
        restore_tenant(target_backups, before, moved)
    report = restore_all(target_backups, before, fresh_database())
    assert sorted(report.tenants) == sorted(kept) and moved not in report.shredded
    assert [(t.tenant_id, t.gone, t.realm) for t in report.left_out] == [(moved, Gone.DEPARTED, "EU")]

    clock.advance(timedelta(hours=1))  # it came back: this deployment holds it again, and backs it up
    after = run_backup(target_backups)
    assert sorted(restore_all(target_backups, after, fresh_database()).tenants) == sorted([moved, *kept])
    assert restore_all(target_backups, before, fresh_database()).left_out[0].tenant_id == moved


@pytest.mark.parametrize("forgery", ["another tenant's", "altered", "garbage"])
def test_a_forged_tombstone_stops_the_restore(
    target_backups: Backups, corpus: Corpus, fresh_database: FreshDatabase, forgery: str
) -> None:
    """Whoever can write to the target but holds no KEK can neither hide a tenant from a restore nor swap one
    tenant's tombstone for another's: the restore stops, naming the object, with nothing written."""
    first, second = corpus.tenants[0].id, corpus.tenants[1].id
    manifest = run_backup(target_backups)
    target_backups.bury(first, Gone.DEPARTED, realm="EU")
    (name,) = target_backups.target.list("departed/")
    genuine = target_backups.target.get(name)
    if forgery == "another tenant's":
        name, forged = name.replace(first, second), genuine.replace(first.encode(), second.encode())
    elif forgery == "altered":
        forged = json.dumps({**json.loads(genuine), "realm": "US"}).encode()
        target_backups.target.delete(name)
    else:
        name, forged = name.replace(first, second), b"\x00not a tombstone"
    target_backups.target.put(name, forged)
    with pytest.raises(BackupCorrupt, match=f"{name} .* does not authenticate"):
        restore_all(target_backups, manifest, fresh_database())
    with pytest.raises(BackupCorrupt):
        restore_tenant(target_backups, manifest, corpus.tenants[2].id)


def test_the_restore_command_refuses_a_purged_tenant_and_leaves_it_out_of_a_whole_restore(
    runtime: Runtime, settings: Settings, corpus: Corpus, fresh_database: FreshDatabase, tmp_path: Path
) -> None:
    def pledge(*arguments: str, database_url: str | None = None):  # type: ignore[no-untyped-def]
        environment = {
            "PLEDGE_DATA_DIR": str(settings.data_dir),
            "PLEDGE_DATABASE_URL": database_url or settings.resolved_database_url,
        }
        return CliRunner().invoke(cli, list(arguments), env=environment)

    tenant_id = corpus.tenants[0].id
    assert pledge("backup", "run").exit_code == 0
    purged = pledge("purge", "--tenant", tenant_id, "--reason", "proof test", "--yes")
    assert purged.exit_code == 0, purged.output

    refused = pledge("backup", "restore", "--tenant", tenant_id)
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "tenant_data_shredded" in refused.stderr

    fresh = fresh_database()
    restored = pledge("backup", "restore", database_url=fresh.url.render_as_string(hide_password=False))
    assert restored.exit_code == 0, restored.output
    assert restored.stdout.startswith("restored backup ") and "2 tenants" in restored.stdout
    assert f"left out: tenant {tenant_id} was purged at " in restored.stderr
    assert restored.stderr.rstrip().endswith("(tenant_data_shredded)")


def test_a_purge_whose_backup_target_is_unreachable_is_finished_by_the_next_run(
    runtime: Runtime, s3_server: S3Server, s3_bucket: str, corpus: Corpus
) -> None:
    """The purge is not done while the target still holds the tenant's key copies: the run fails at the `backups`
    step (its rows and keys here are gone already) and the next run, the target back, finishes it."""
    tenant_id = corpus.tenants[0].id
    reachable = dataclasses.replace(backups_for(runtime), target=target(s3_server, s3_bucket))
    run_backup(reachable)
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = dataclasses.replace(reachable, target=target(s3_server, s3_bucket, endpoint_url=dead))
    runtime.tenants.request_deletion(tenant_id, DeletionCause.OPERATOR, "proof test")
    assert _run_purge(runtime, unreachable) == "failed"
    with runtime.engine.connect() as connection:
        entry = ledger_entry(connection, tenant_id)
    assert entry is not None and entry.purged_at is None and runtime.vault.is_shredded(tenant_id)
    assert reachable.key_versions(tenant_id) != []

    assert _run_purge(runtime, reachable) == "succeeded"
    with runtime.engine.connect() as connection:
        entry = ledger_entry(connection, tenant_id)
    assert entry is not None and entry.purged_at is not None
    assert reachable.key_versions(tenant_id) == [] and tenant_id in reachable.tombstones()
