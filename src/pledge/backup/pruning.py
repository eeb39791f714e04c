"""Retention (S5): every daily backup kept at least ``PLEDGE_BACKUP_RETENTION_DAYS`` (never below 30).

Inside the window the newest complete backup of each UTC day is kept, and every backup of the last 24 hours; the
newest complete backup is never pruned, however old. Optional tiers keep more, as restic's ``--keep-weekly`` and
``--keep-monthly`` do: the newest backup of each of the last N ISO weeks (``PLEDGE_BACKUP_KEEP_WEEKLY``) and months
(``PLEDGE_BACKUP_KEEP_MONTHLY``) that have one. Everything else goes: its manifest first (it no longer lists as
complete), then its segments. An object under Object Lock stays, and is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pledge.backup.backup_format import manifest_object
from pledge.backup.backups import Backups, RetentionTiers, created_at
from pledge.backup.target import ObjectLocked


@dataclass(frozen=True, slots=True)
class Pruned:
    kept: tuple[str, ...]
    deleted: tuple[str, ...]
    locked: tuple[str, ...]
    """Backups retention would remove that the target keeps locked for now: tried again next time."""


def backups_to_keep(backup_ids: Sequence[str], now: datetime, retention_days: int, tiers: RetentionTiers) -> set[str]:
    """Which of ``backup_ids`` (complete, oldest first) retention keeps at ``now``."""
    window = [i for i in backup_ids if created_at(i) >= now - timedelta(days=retention_days)]
    last_day = {i for i in backup_ids if created_at(i) >= now - timedelta(days=1)}
    return (
        set(backup_ids[-1:])
        | last_day
        | _newest_of_each(window, _day, len(window))
        | _newest_of_each(backup_ids, _week, tiers.weeks)
        | _newest_of_each(backup_ids, _month, tiers.months)
    )


def _newest_of_each(backup_ids: Sequence[str], period: Callable[[datetime], Hashable], last: int) -> set[str]:
    """The newest backup of each of the ``last`` periods that have one (``backup_ids`` oldest first)."""
    newest: dict[Hashable, str] = {}
    for backup_id in backup_ids:  # a later backup of the same period replaces an earlier one
        newest[period(created_at(backup_id))] = backup_id
    return set(list(newest.values())[-last:]) if last > 0 else set()


def _day(made: datetime) -> Hashable:
    return made.date()


def _week(made: datetime) -> Hashable:
    year, week, _ = made.isocalendar()
    return (year, week)


def _month(made: datetime) -> Hashable:
    return (made.year, made.month)


def prune(backups: Backups) -> Pruned:
    backup_ids = backups.complete_ids()
    keep = backups_to_keep(backup_ids, backups.clock.now(), backups.retention_days, backups.tiers)
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
