"""A backup reads one snapshot while the server keeps writing: what commits after it began is not in it."""

from __future__ import annotations

from backup_corpus import MAILER, Corpus
from sqlalchemy import func, select

from pledge.backup.snapshot import read_snapshot
from pledge.runtime import Runtime
from pledge.store.tables import records_table


def test_writes_committed_during_the_snapshot_are_not_seen_and_are_not_blocked(
    runtime: Runtime, corpus: Corpus
) -> None:
    count = select(func.count()).select_from(records_table)
    with read_snapshot(runtime.engine) as connection:
        before = connection.execute(count).scalar_one()
        runtime.store_for(MAILER, corpus.tenants[0]).create("rules", {"name": "written while backing up"})
        assert connection.execute(count).scalar_one() == before
    with runtime.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == before + 1
