"""A segment altered, truncated, swapped with another tenant's or another backup's, or a forged manifest: verify
finds it, and restore refuses it before writing anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from backup_corpus import Corpus
from sqlalchemy import inspect

from pledge.backup.backup_format import BackupCorrupt, Manifest, tenant_segment_name
from pledge.backup.backups import Backups
from pledge.backup.integrity import verify_backup
from pledge.backup.restore import restore_all, restore_tenant
from pledge.backup.writer import run_backup
from pledge.db import open_engine
from pledge.runtime import Runtime


def _segment(root: Path, manifest: Manifest, name: str) -> Path:
    return root / "backups" / manifest.backup_id / "segments" / name


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


TAMPERINGS: dict[str, Callable[[Path, Manifest, Manifest, list[str]], None]] = {
    "altered": lambda root, m, _, t: _flip(_segment(root, m, tenant_segment_name(t[0]))),
    "truncated": lambda root, m, _, t: _truncate(_segment(root, m, tenant_segment_name(t[0]))),
    "swapped between tenants": lambda root, m, _, t: _segment(root, m, tenant_segment_name(t[0])).write_bytes(
        _segment(root, m, tenant_segment_name(t[1])).read_bytes()
    ),
    "swapped between backups": lambda root, m, older, t: _segment(root, m, tenant_segment_name(t[0])).write_bytes(
        _segment(root, older, tenant_segment_name(t[0])).read_bytes()
    ),
    "platform altered": lambda root, m, _, t: _flip(_segment(root, m, "platform")),
    "platform swapped between backups": lambda root, m, older, t: _segment(root, m, "platform").write_bytes(
        _segment(root, older, "platform").read_bytes()
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_segment_fails_verify_and_restore_writes_nothing(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path, tampering: str
) -> None:
    older = run_backup(backups)
    manifest = run_backup(backups)
    ids = [t.id for t in corpus.tenants]
    TAMPERINGS[tampering](tmp_path / "backups", manifest, older, ids)

    result = verify_backup(backups, manifest, share=1.0)
    assert not result.passed and len(result.failures) == 1
    assert "is not the one its manifest lists" in result.failures[0]
    assert verify_backup(backups, older, share=1.0).passed

    scratch = open_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    try:
        with pytest.raises(BackupCorrupt):
            restore_all(backups, manifest, scratch)
        assert inspect(scratch).get_table_names() == []
    finally:
        scratch.dispose()
    if tampering.startswith("platform"):
        return
    before = runtime.tenant_data.export(ids[0])
    with pytest.raises(BackupCorrupt):
        restore_tenant(backups, manifest, ids[0])
    assert runtime.tenant_data.export(ids[0]) == before


def test_a_forged_manifest_does_not_authenticate(backups: Backups, corpus: Corpus, tmp_path: Path) -> None:
    manifest = run_backup(backups)
    path = tmp_path / "backups" / "backups" / manifest.backup_id / "manifest"
    _flip(path)
    with pytest.raises(BackupCorrupt, match="does not authenticate"):
        backups.manifest(manifest.backup_id)


def test_a_manifest_copied_under_another_backup_id_does_not_authenticate(
    backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    older = run_backup(backups)
    newer = run_backup(backups)
    root = tmp_path / "backups" / "backups"
    (root / newer.backup_id / "manifest").unlink()
    (root / newer.backup_id / "manifest").write_bytes((root / older.backup_id / "manifest").read_bytes())
    with pytest.raises(BackupCorrupt, match="does not authenticate"):
        backups.manifest(newer.backup_id)
