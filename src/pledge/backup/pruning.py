"""Retention (S5): every daily backup kept at least ``PLEDGE_BACKUP_RETENTION_DAYS`` (never below 30).

Inside the window the newest complete backup of each UTC day is kept, and every backup of the last 24 hours; the
newest complete backup is never pruned, however old. Everything else goes: its manifest first (it no longer lists
as complete), then its segments. An object under Object Lock stays, and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pledge.backup.backup_format import manifest_object
from pledge.backup.backups import Backups, created_at
from pledge.backup.target import ObjectLocked


@dataclass(frozen=True, slots=True)
class Pruned:
    kept: tuple[str, ...]
    deleted: tuple[str, ...]
    locked: tuple[str, ...]
    """Backups retention would remove that the target keeps locked for now: tried again next time."""


def backups_to_keep(backup_ids: list[str], backups: Backups) -> set[str]:
    now = backups.clock.now()
    window_start = now - timedelta(days=backups.retention_days)
    keep: set[str] = set(backup_ids[-1:])
    newest_of_day: dict[object, str] = {}
    for backup_id in backup_ids:  # oldest first: a later one of the same day replaces an earlier one
        made = created_at(backup_id)
        if made >= now - timedelta(days=1):
            keep.add(backup_id)
        if made >= window_start:
            newest_of_day[made.date()] = backup_id
    return keep | set(newest_of_day.values())


def prune(backups: Backups) -> Pruned:
    backup_ids = backups.complete_ids()
    keep = backups_to_keep(backup_ids, backups)
    deleted: list[str] = []
    locked: list[str] = []
    for backup_id in backup_ids:
        if backup_id in keep:
            continue
        try:
            backups.target.delete(manifest_object(backup_id))
            for name in backups.target.list(f"backups/{backup_id}/"):
                backups.target.delete(name)
        except ObjectLocked:
            locked.append(backup_id)
            continue
        deleted.append(backup_id)
    return Pruned(tuple(sorted(keep)), tuple(deleted), tuple(locked))
