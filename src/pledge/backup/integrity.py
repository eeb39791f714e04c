"""``pledge backup verify``: read a share of a backup's segments (or all) and prove each is the one its manifest
lists and opens under its key, as restic's ``check --read-data-subset`` does."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pledge.backup.backup_format import BackupCorrupt, Manifest
from pledge.backup.backups import Backups, Progress
from pledge.backup.target import ObjectMissing
from pledge.vault import KeyringError


@dataclass(frozen=True, slots=True)
class Verification:
    backup_id: str
    checked: int
    """Segments read, checked against the manifest and opened."""
    total: int
    shredded: tuple[str, ...]
    """Tenants whose segment could not be opened because their data keys are gone: shredded, by design."""
    failures: tuple[str, ...]
    """One line per segment that is missing, altered, truncated, swapped or does not open."""

    @property
    def passed(self) -> bool:
        return not self.failures


def verify_backup(
    backups: Backups, manifest: Manifest, *, share: float = 1.0, progress: Progress | None = None
) -> Verification:
    """Check ``share`` (0 < share ≤ 1) of the segments, chosen at random, at least one; all with ``share=1``."""
    if not 0 < share <= 1:
        raise ValueError("the share of segments to verify is above 0 and at most 1")
    segments = list(manifest.segments)
    chosen = random.sample(segments, max(1, math.ceil(len(segments) * share)))
    failures: list[str] = []
    shredded: list[str] = []
    for done, segment in enumerate(chosen, start=1):
        try:
            if backups.open_segment(manifest, segment) is None:
                shredded.append(segment.tenant_id)
        except (BackupCorrupt, KeyringError) as exc:
            failures.append(str(exc))
        except ObjectMissing:
            failures.append(f"segment {segment.name} of backup {manifest.backup_id} is missing")
        if progress:
            progress(done, len(chosen))
    return Verification(manifest.backup_id, len(chosen), len(segments), tuple(shredded), tuple(failures))
