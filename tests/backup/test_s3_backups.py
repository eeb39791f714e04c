"""Backups into S3 (SeaweedFS on loopback, see conftest.py): the same guarantees as into a directory — every byte
in the bucket sealed, verify and a whole restore from what the bucket holds, a swapped object refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_corpus import Corpus
from bench.seaweed import S3Server
from tests.backup.test_s3_target import target

from pledge.backup.backup_format import BackupCorrupt
from pledge.backup.backups import Backups
from pledge.backup.integrity import verify_backup
from pledge.backup.restore import restore_all
from pledge.backup.writer import run_backup
from pledge.db import open_engine
from pledge.runtime import Runtime


@pytest.fixture
def s3_backups(runtime: Runtime, s3_server: S3Server, s3_bucket: str) -> Backups:
    store = target(s3_server, s3_bucket)
    return Backups(runtime.engine, runtime.vault, runtime.tenant_data, store, runtime.clock, 30)


def _bucket_bytes(s3_server: S3Server, bucket: str) -> bytes:
    client = s3_server.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    return b"".join(client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys)


def test_no_byte_in_the_bucket_shows_personal_data_secrets_or_site_urls(
    s3_backups: Backups, corpus: Corpus, s3_server: S3Server, s3_bucket: str
) -> None:
    run_backup(s3_backups)
    written = _bucket_bytes(s3_server, s3_bucket)
    assert len(written) > 1000 and b"pledge-backup/1" in written  # the search finds what is there
    urls = [f"site-{i}.atlassian.net" for i in range(len(corpus.tenants))]
    needles = [*corpus.needles, *urls, "pledge-tenant-data", "rule 1"]
    assert [n for n in needles if n.encode() in written or n.encode().hex().encode() in written] == []


def test_a_backup_in_s3_verifies_and_restores_whole_into_an_empty_database(
    runtime: Runtime, s3_backups: Backups, corpus: Corpus, tmp_path: Path
) -> None:
    manifest = run_backup(s3_backups)
    assert s3_backups.complete_ids() == [manifest.backup_id]
    assert verify_backup(s3_backups, manifest).passed
    ids = [tenant.id for tenant in corpus.tenants]
    scratch = open_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        report = restore_all(s3_backups, manifest, scratch)
        assert sorted(report.tenants) == sorted(ids)
        restored = s3_backups.tenant_data.on(scratch)
        assert [restored.export(t) for t in ids] == [runtime.tenant_data.export(t) for t in ids]
    finally:
        scratch.dispose()


def test_a_segment_swapped_between_tenants_in_the_bucket_is_refused(
    s3_backups: Backups, corpus: Corpus, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    manifest = run_backup(s3_backups)
    client = s3_server.client()
    keys = sorted(
        item["Key"]
        for item in client.list_objects_v2(Bucket=s3_bucket, Prefix="backups/backups/").get("Contents", [])
        if "/segments/" in item["Key"] and not item["Key"].endswith("/platform")
    )
    first, second = keys[0], keys[1]
    body = client.get_object(Bucket=s3_bucket, Key=second)["Body"].read()
    client.delete_object(Bucket=s3_bucket, Key=first)
    client.put_object(Bucket=s3_bucket, Key=first, Body=body)
    assert not verify_backup(s3_backups, manifest).passed
    scratch = open_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        with pytest.raises(BackupCorrupt):
            restore_all(s3_backups, manifest, scratch)
    finally:
        scratch.dispose()
