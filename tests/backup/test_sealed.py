"""S4's proof: nothing a backup writes shows the data it holds; a key that cannot be had stops the backup before
anything is published; files and directories are private to their owner."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from backup_corpus import Corpus
from sqlalchemy import text

from pledge.backup.backups import Backups
from pledge.backup.directory import DirectoryTarget
from pledge.backup.writer import KeyMissing, run_backup
from pledge.runtime import Runtime
from pledge.vault import KeyringError, LocalKeyring, Vault


def _written(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def _clear(haystack: bytes, needles: list[str]) -> list[str]:
    return [n for n in needles if n.encode() in haystack or n.encode().hex().encode() in haystack]


def test_no_byte_written_to_the_target_shows_personal_data_secrets_or_site_urls(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    run_backup(backups)
    run_backup(backups)
    root = tmp_path / "backups"
    written = _written(root)
    assert len(written) > 1000
    urls = [f"site-{i}.atlassian.net" for i in range(len(corpus.tenants))]  # clear in the database by design
    assert _clear(written, [*corpus.needles, *urls, "pledge-tenant-data", "rule 1"]) == []
    # The search finds what is there: the manifest names its format in its clear header.
    assert b"pledge-backup/1" in written


def test_objects_are_private_files_in_private_directories(backups: Backups, corpus: Corpus, tmp_path: Path) -> None:
    run_backup(backups)
    root = tmp_path / "backups"
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_keyring_that_cannot_unwrap_the_data_keys_fails_the_backup_and_publishes_nothing(
    runtime: Runtime, corpus: Corpus, tmp_path: Path
) -> None:
    other = Vault(runtime.engine, LocalKeyring(tmp_path / "another-keyring.json"), runtime.clock)
    target = DirectoryTarget(tmp_path / "backups")
    backups = Backups(runtime.engine, other, runtime.tenant_data, target, runtime.clock, 30)
    with pytest.raises(KeyringError):
        run_backup(backups)
    assert backups.complete_ids() == []
    assert _clear(_written(tmp_path / "backups"), corpus.needles) == []


def test_a_tenant_whose_data_key_is_missing_fails_the_backup_and_publishes_nothing(
    runtime: Runtime, backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text("DELETE FROM data_keys WHERE tenant_id = :t"), {"t": corpus.tenants[1].id})
    with pytest.raises(KeyMissing):
        run_backup(backups)
    assert backups.complete_ids() == []
    assert _clear(_written(tmp_path / "backups"), corpus.needles) == []
