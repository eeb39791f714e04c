"""The restore drill: the latest backup restored into a scratch SQLite database and checked, as evidence that the
backups restore (the statement's ``restore-drill`` claim reads when it last succeeded)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pledge.backup.backups import Backups
from pledge.backup.restore import RestoreReport, restore_all
from pledge.db import open_engine


def restore_drill(backups: Backups) -> RestoreReport:
    """Restore the newest complete backup into a fresh database in a temporary directory, removed afterwards.

    The restore opens every segment against the manifest before it writes, and checks that each table holds the
    rows the manifest lists: whatever does not hold raises, and the drill's job run fails.
    """
    manifest = backups.latest()
    with tempfile.TemporaryDirectory(prefix="pledge-drill-") as scratch:
        engine = open_engine(f"sqlite:///{Path(scratch) / 'drill.db'}")
        try:
            return restore_all(backups, manifest, engine)
        finally:
            engine.dispose()
