"""Retention over 70 simulated days: inside the window every day keeps a backup, nothing older stays, the newest is
never pruned; a backup of a newer schema is refused; a shredded tenant's segments become unreadable everywhere."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from backup_corpus import Corpus, populate

from pledge.backup import backup_format
from pledge.backup.backups import Backups, created_at
from pledge.backup.integrity import verify_backup
from pledge.backup.pruning import prune
from pledge.backup.restore import NewerSchema, RestoreRefused, restore_all, restore_tenant
from pledge.backup.writer import run_backup
from pledge.clock import FrozenClock
from pledge.db import open_engine
from pledge.runtime import Runtime


def test_seventy_days_of_backups_keep_every_day_of_the_window_and_nothing_older(
    runtime: Runtime, backups: Backups, clock: FrozenClock
) -> None:
    populate(runtime, sites=1, records=1)
    for day in range(70):
        run_backup(backups)
        clock.advance(timedelta(hours=9))
        run_backup(backups)  # a second backup that day: only the day's newest outlives the day
        clock.advance(timedelta(hours=15))
        pruned = prune(backups)
        kept = [created_at(i) for i in backups.complete_ids()]
        assert sorted(kept) == kept and pruned.locked == ()
        now = clock.now()
        window = [d for d in kept if d >= now - timedelta(days=30)]
        days = {d.date() for d in window}
        expected_days = min(day + 1, 30)
        assert len(days) >= expected_days, f"day {day}: {len(days)} days kept"
        assert all(d >= now - timedelta(days=30) for d in kept)
        older = [d for d in kept if d < now - timedelta(days=1)]
        assert len(older) == len({d.date() for d in older}), "one backup a day is enough past the last 24 hours"
    assert len(backups.complete_ids()) <= 31

    # Backups stop: the window empties, but the newest backup is never pruned.
    clock.advance(timedelta(days=45))
    prune(backups)
    assert len(backups.complete_ids()) == 1


def test_a_backup_of_a_newer_schema_is_refused_with_the_release_to_use(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    manifest = run_backup(backups)
    future = dataclasses.replace(manifest, backup_id=manifest.backup_id[:-8] + "ffffffff", schema_revision="9900")
    for segment in manifest.segments:  # the segments are bound to their backup id: seal the same data anew
        backups.target.put(
            backup_format.segment_object(future.backup_id, segment.name),
            backups.target.get(backup_format.segment_object(manifest.backup_id, segment.name)),
        )
    backups.target.put(
        backup_format.manifest_object(future.backup_id), backup_format.seal_manifest(future, backups.vault.keyring)
    )
    opened = backups.manifest(future.backup_id)
    assert opened.schema_revision == "9900"
    scratch = open_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    try:
        with pytest.raises(NewerSchema, match=r"revision 9900, newer than this release knows .*: restore it with"):
            restore_all(backups, opened, scratch)
    finally:
        scratch.dispose()
    with pytest.raises(NewerSchema):
        restore_tenant(backups, opened, corpus.tenants[0].id)


def test_a_tenant_shredded_after_a_backup_is_unreadable_in_it_and_left_out_of_a_restore(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    shredded = corpus.tenants[0]
    manifest = run_backup(backups)
    runtime.vault.shred(shredded.id)
    later = run_backup(backups)  # the next run reads the shred ledger and deletes the target's copies of its keys
    assert shredded.id not in later.tenants and shredded.id in later.shredded
    assert backups.key_versions(shredded.id) == []
    result = verify_backup(backups, manifest, share=1.0)
    assert result.passed and result.shredded == (shredded.id,)
    with pytest.raises(RestoreRefused, match="crypto-shredded"):
        restore_tenant(backups, manifest, shredded.id)
    scratch = open_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    try:
        report = restore_all(backups, manifest, scratch)
        assert shredded.id in report.shredded and shredded.id not in report.tenants
        assert len(report.tenants) == len(corpus.tenants) - 1
    finally:
        scratch.dispose()
