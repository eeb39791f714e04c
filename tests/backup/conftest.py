"""Fixtures of the backup tests: a directory target and a populated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_corpus import Corpus, populate

from pledge.backup.backups import Backups
from pledge.backup.directory import DirectoryTarget
from pledge.runtime import Runtime


@pytest.fixture
def backups(runtime: Runtime, tmp_path: Path) -> Backups:
    return Backups(
        engine=runtime.engine,
        vault=runtime.vault,
        tenant_data=runtime.tenant_data,
        target=DirectoryTarget(tmp_path / "backups"),
        clock=runtime.clock,
        retention_days=30,
    )


@pytest.fixture
def corpus(runtime: Runtime) -> Corpus:
    return populate(runtime)
