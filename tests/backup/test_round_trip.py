"""A whole-system restore into an empty database gives back every tenant's data as it was; one tenant restored into a
live system leaves the others untouched."""

from __future__ import annotations

import json
from pathlib import Path

from backup_corpus import MAILER, Corpus
from sqlalchemy import Engine

from pledge import schema
from pledge.backup.backup_format import segment_json
from pledge.backup.backups import Backups
from pledge.backup.restore import restore_all, restore_tenant
from pledge.backup.writer import run_backup
from pledge.db import open_engine
from pledge.runtime import Runtime


def _exports(backups: Backups, engine: Engine, tenant_ids: list[str]) -> list[dict[str, object]]:
    tenant_data = backups.tenant_data.on(engine)
    return [tenant_data.export(tenant_id) for tenant_id in tenant_ids]


def test_whole_system_restore_into_an_empty_database_equals_the_original(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    manifest = run_backup(backups)
    ids = [tenant.id for tenant in corpus.tenants]
    scratch = open_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        report = restore_all(backups, manifest, scratch)
        assert sorted(report.tenants) == sorted(ids)
        assert _exports(backups, scratch, ids) == _exports(backups, runtime.engine, ids)
        assert schema.status(scratch).is_current
    finally:
        scratch.dispose()


def test_one_tenant_restored_into_a_live_system_leaves_the_others_untouched(
    runtime: Runtime, backups: Backups, corpus: Corpus
) -> None:
    first, second, third = corpus.tenants
    before = runtime.tenant_data.export(first.id)
    manifest = run_backup(backups)
    store = runtime.store_for(MAILER, first)
    for record in store.list("rules"):
        store.delete("rules", record.id)
    runtime.store_for(MAILER, second).create("rules", {"name": "after the backup"})
    others = [runtime.tenant_data.export(t.id) for t in (second, third)]
    restore_tenant(backups, manifest, first.id)
    assert runtime.tenant_data.export(first.id) == before
    assert [runtime.tenant_data.export(t.id) for t in (second, third)] == others
    assert len(runtime.store_for(MAILER, first).list("rules")) == 6


def test_tenants_read_in_batches_are_exported_as_one_by_one(runtime: Runtime, corpus: Corpus) -> None:
    ids = [tenant.id for tenant in corpus.tenants] + ["0" * 32]  # a tenant with no rows at all, too
    with runtime.engine.connect() as connection:
        batched = runtime.tenant_data.export_many_in(connection, ids)
        # What the backup writes of a batch is what a one-by-one export says, tags included.
        written = [json.loads(segment_json(document)) for document in batched]
        assert written == [runtime.tenant_data.export_in(connection, tenant_id) for tenant_id in ids]
