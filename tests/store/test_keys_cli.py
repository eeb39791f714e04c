"""S4: operators rotate the KEK and a tenant's data key from the command line; failures are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pledge import schema
from pledge.app import App
from pledge.cli import cli
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field
from pledge.tenants import tenants_table
from pledge.vault import ciphertext_key_version

APP = App(
    key="mailer",
    name="Mailer",
    data=DataManifest((Collection("rules", "Rules", (Field("name", Category.CONFIGURATION, "Shown", indexed=True),)),)),
)


def test_rotate_a_tenants_key_then_the_kek(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    tenant = runtime.tenants.create(
        app_key="mailer", client_key="ck", base_url="https://a.atlassian.net", product_type="jira"
    )
    record = runtime.store_for(APP, tenant).create("rules", {"name": "one"})
    runtime.tenants.set_shared_secret(tenant.id, "connect-shared-secret")
    runtime.close()
    runner = CliRunner()

    rotated = runner.invoke(cli, ["keys", "rotate", tenant.id])
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stdout == f"tenant {tenant.id}: data key version 2, re-encrypted 1 records\n"
    resumed = runner.invoke(cli, ["keys", "rotate", "--resume", tenant.id])
    assert resumed.stdout == f"tenant {tenant.id}: data key version 2, re-encrypted 0 records\n"
    kek = runner.invoke(cli, ["keys", "rotate-kek"])
    assert kek.stdout == "re-wrapped 2 data keys under the new key-encryption key\n"

    reopened = Runtime.open(load_settings())
    assert reopened.store_for(APP, tenant).list("rules", where={"name": "one"})[0].id == record.id
    assert reopened.tenants.shared_secret(tenant.id) == "connect-shared-secret"
    with reopened.engine.connect() as connection:
        sealed = connection.execute(select(tenants_table.c.shared_secret)).scalar_one()
    assert ciphertext_key_version(sealed) == 2
    reopened.close()


def test_unknown_tenant_or_old_schema_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    old = runner.invoke(cli, ["keys", "rotate-kek"])
    assert old.exit_code == 1
    assert (
        old.stderr == "pledge: schema is at empty, expected 0100: run `pledge db upgrade`\n"
        or "run `pledge db upgrade`" in old.stderr
    )
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    unknown = runner.invoke(cli, ["keys", "rotate", "0" * 32])
    assert unknown.exit_code == 1
    assert unknown.stderr == "pledge: no such tenant\n"
