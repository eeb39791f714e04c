"""The backups' claims (S4, S5), each checked against the target itself: the manifests there, a segment read back,
and the restore drill's last success in the job history.

Each fails on a running deployment when its promise stops holding: no complete backup for 26 hours or a gap of more
than 26 hours between retained backups, a manifest or segment that does not authenticate or shows clear text, a
drill that has not succeeded for 48 hours.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Final, Protocol

from pledge.backup.backup_format import PLATFORM_SEGMENT, segment_object
from pledge.backup.backups import Backups, created_at
from pledge.backup.directory import DIRECTORY_MODE, DirectoryTarget
from pledge.backup.schedule import DRILL_JOB, MAXIMUM_PERIOD, backup_jobs
from pledge.jobs import JobRunner
from pledge.promises import Claim, Evidence, Section, plural

MAXIMUM_AGE: Final = timedelta(hours=26)
"""How old the newest backup, and the longest gap between two retained ones, may be: a day and a margin for the run."""
DRILL_MAXIMUM_AGE: Final = timedelta(hours=48)
CLEAR_TEXT_MARKERS: Final = (b"pledge-tenant-data", b"pledge-backup-platform", b'"tenantId"', b"\x28\xb5\x2f\xfd")
"""What a segment would show if it were written unsealed: the documents' format names, a JSON key, zstd's magic."""


class BackedUp(Protocol):
    """The deployment as these checks read it: its backups."""

    def backups(self) -> Backups: ...


class StatedBackups(Protocol):
    @property
    def backup_retention_days(self) -> int: ...


def check_backup_daily(deployment: BackedUp, facts: StatedBackups) -> Evidence:
    backups = deployment.backups()
    now = backups.clock.now()
    ids = backups.complete_ids()
    if not ids:
        return Evidence(False, f"no complete backup in {backups.target.description}")
    newest = backups.manifest(ids[-1])
    age = now - newest.created_at
    if age > MAXIMUM_AGE:
        return Evidence(False, f"the newest complete backup, {newest.backup_id}, is {_hours(age)} old")
    window = [i for i in ids if created_at(i) >= now - timedelta(days=facts.backup_retention_days)]
    # Each counts only if its manifest authenticates: an object named like a backup proves nothing.
    times = [backups.manifest(backup_id).created_at for backup_id in window]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    longest = max(gaps, default=timedelta(0))
    covered = now - times[0]
    detail = (
        f"{plural(len(window), 'complete backup')} over the last {covered.days} days in {backups.target.description}, "
        f"the newest {_hours(age)} old, never more than {_hours(longest)} apart"
    )
    return Evidence(longest <= MAXIMUM_AGE, detail)


def check_backup_encrypted(deployment: BackedUp, facts: object) -> Evidence:
    backups = deployment.backups()
    target = backups.target
    if isinstance(target, DirectoryTarget):
        mode = target.root.stat().st_mode & 0o777
        if mode != DIRECTORY_MODE:
            return Evidence(False, f"{target.description} has mode {mode:04o}, readable by others")
    manifest = backups.latest()
    tenants = [segment for segment in manifest.segments if segment.tenant_id]
    read = [manifest.segment(PLATFORM_SEGMENT), *tenants[:1]]
    size = 0
    for segment in read:
        sealed = target.get(segment_object(manifest.backup_id, segment.name))
        size += len(sealed)
        marker = next((m for m in CLEAR_TEXT_MARKERS if m in sealed), None)
        if marker is not None:
            return Evidence(False, f"segment {segment.name} of backup {manifest.backup_id} holds clear text")
        backups.open_segment(manifest, segment)  # BackupCorrupt fails the check
    names = "the platform's" + (" and one site's" if len(read) > 1 else "")
    return Evidence(
        True,
        f"backup {manifest.backup_id}: manifest authenticated under the keyring; {names} segments "
        f"({size:,} bytes) open only under their keys (AES-256-GCM, each tenant's own data key) and show no clear text",
    )


def check_restore_drill(deployment: BackedUp, facts: object) -> Evidence:
    backups = deployment.backups()
    drill = backup_jobs(backups, MAXIMUM_PERIOD)[1]
    (status,) = JobRunner(backups.engine, backups.clock, (drill,)).status()
    if status.last_success is None:
        return Evidence(False, f"job {DRILL_JOB} has never succeeded")
    age = backups.clock.now() - status.last_success
    return Evidence(
        age <= DRILL_MAXIMUM_AGE, f"job {DRILL_JOB} last restored the latest backup and checked it {_hours(age)} ago"
    )


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"


BACKUP_DAILY: Claim[BackedUp, StatedBackups] = Claim(
    "backup-daily",
    "S5",
    Section.BACKUP,
    "Backups of all stored data at least once a day, each kept {facts.backup_retention_days} days.",
    check_backup_daily,
)
BACKUP_ENCRYPTED: Claim[BackedUp, object] = Claim(
    "backup-encrypted",
    "S4",
    Section.BACKUP,
    "Backups encrypted before they leave the server, unreadable to anyone without the key-encryption key.",
    check_backup_encrypted,
)
RESTORE_DRILL: Claim[BackedUp, object] = Claim(
    "restore-drill",
    "S5",
    Section.BACKUP,
    "A restore drill at least every 48 hours proving that the latest backup restores.",
    check_restore_drill,
)

CLAIMS: Final = (BACKUP_DAILY, BACKUP_ENCRYPTED, RESTORE_DRILL)
"""The backups' claims; :mod:`pledge.statement.claims` places them in the statement."""
