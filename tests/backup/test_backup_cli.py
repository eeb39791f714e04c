"""``pledge backup run | list | verify | restore | prune`` as an operator runs them: a summary line, one-line
errors, exit codes."""

from __future__ import annotations

from pathlib import Path

from backup_corpus import MAILER, Corpus
from bench.seaweed import S3Server
from click.testing import CliRunner

from pledge import schema
from pledge.cli import cli
from pledge.config import Settings, load_settings
from pledge.runtime import Runtime


def _run(  # type: ignore[no-untyped-def]
    settings: Settings, *arguments: str, database_url: str | None = None, environment: dict[str, str] | None = None
):
    environment = {
        "PLEDGE_DATA_DIR": str(settings.data_dir),
        "PLEDGE_DATABASE_URL": database_url or settings.resolved_database_url,
        **(environment or {}),
    }
    return CliRunner().invoke(cli, ["backup", *arguments], env=environment)


def test_run_list_verify_and_restore_one_tenant(runtime: Runtime, settings: Settings, corpus: Corpus) -> None:
    ran = _run(settings, "run")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.startswith("backup ") and "3 tenants, 4 segments" in ran.stdout
    backup_id = ran.stdout.split()[1].rstrip(":")

    listed = _run(settings, "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[0].startswith(f"{backup_id}  ")
    assert "3 tenants" in listed.stdout.splitlines()[0]

    for option in ("--full", "--sample=50%"):
        verified = _run(settings, "verify", option)
        assert verified.exit_code == 0, verified.output
        assert verified.stdout.startswith(f"backup {backup_id}: ") and verified.stdout.rstrip().endswith("0 failed")
    assert "4 of 4 segments read" in _run(settings, "verify", "--full").stdout

    tenant = corpus.tenants[0]
    store = runtime.store_for(MAILER, tenant)
    for record in store.list("rules"):
        store.delete("rules", record.id)
    restored = _run(settings, "restore", "--tenant", tenant.id)
    assert restored.exit_code == 0, restored.output
    assert restored.stdout.startswith(f"restored backup {backup_id}: 1 tenants")
    assert len(store.list("rules")) == 6

    pruned = _run(settings, "prune")
    assert pruned.exit_code == 0 and pruned.stdout.startswith("pruned 0 backups, kept 1")


def test_whole_restore_goes_into_an_empty_database_only(
    runtime: Runtime, settings: Settings, corpus: Corpus, tmp_path: Path
) -> None:
    assert _run(settings, "run").exit_code == 0
    refused = _run(settings, "restore")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("pledge: a whole-system restore writes into an empty database only")
    assert refused.stderr.count("\n") == 1

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    restored = _run(settings, "restore", database_url=empty)
    assert restored.exit_code == 0, restored.output
    assert "3 tenants" in restored.stdout
    fresh = Runtime.open(load_settings(data_dir=settings.data_dir, database_url=empty))
    try:
        assert schema.status(fresh.engine).is_current
        assert [fresh.tenant_data.export(t.id) for t in corpus.tenants] == [
            runtime.tenant_data.export(t.id) for t in corpus.tenants
        ]
    finally:
        fresh.close()


def test_operator_mistakes_are_one_line(runtime: Runtime, settings: Settings) -> None:
    nothing = _run(settings, "verify")
    assert nothing.exit_code == 1 and "no complete backup" in nothing.stderr and nothing.stderr.count("\n") == 1
    assert _run(settings, "verify", "--sample", "0%").exit_code == 2
    assert _run(settings, "verify", "--sample", "10%", "--full").exit_code == 2
    assert _run(settings, "restore", "--to", "yesterday").exit_code == 2
    unknown = _run(settings, "restore", "20261127t090000z-00000000")
    assert unknown.exit_code == 1 and "no complete backup 20261127t090000z-00000000" in unknown.stderr
    bad = _run(settings, "restore", "../../etc")
    assert bad.exit_code == 1 and "is not a backup id" in bad.stderr


def test_the_readme_s_s3_walkthrough_backs_up_lists_verifies_and_restores_from_the_bucket(
    runtime: Runtime, settings: Settings, corpus: Corpus, s3_server: S3Server, s3_bucket: str
) -> None:
    to_s3 = {
        "PLEDGE_BACKUP_TARGET": f"s3://{s3_bucket}/prod",
        "PLEDGE_BACKUP_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "PLEDGE_BACKUP_S3_REGION": "us-east-1",
        "PLEDGE_BACKUP_S3_PATH_STYLE": "true",
        "PLEDGE_BACKUP_S3_ACCESS_KEY_ID": s3_server.access_key_id,
        "PLEDGE_BACKUP_S3_SECRET_ACCESS_KEY": s3_server.secret_access_key,
    }
    ran = _run(settings, "run", environment=to_s3)
    assert ran.exit_code == 0, ran.output
    backup_id = ran.stdout.split()[1].rstrip(":")
    stored = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=f"prod/backups/{backup_id}/")
    assert len(stored["Contents"]) == 5  # four segments and the manifest, in the bucket under the prefix

    listed = _run(settings, "list", environment=to_s3)
    assert listed.exit_code == 0 and listed.stdout.startswith(f"{backup_id}  ")
    verified = _run(settings, "verify", "--full", environment=to_s3)
    assert verified.exit_code == 0 and "4 of 4 segments read" in verified.stdout

    tenant = corpus.tenants[0]
    store = runtime.store_for(MAILER, tenant)
    for record in store.list("rules"):
        store.delete("rules", record.id)
    restored = _run(settings, "restore", "--tenant", tenant.id, environment=to_s3)
    assert restored.exit_code == 0, restored.output
    assert len(store.list("rules")) == 6
    assert s3_server.secret_access_key not in ran.output + listed.output + verified.output + restored.output
