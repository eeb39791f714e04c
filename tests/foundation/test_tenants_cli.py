"""`pledge tenants`: the ids `pledge keys rotate` takes, and what an operator may see of each site — no secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledge import schema
from pledge.cli import cli
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.tenants import TenantState

SECRET = "connect-shared-secret-value"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_list_and_show_name_each_tenant_by_the_id_other_commands_take(data_dir: Path) -> None:
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    jira = runtime.tenants.create(
        app_key="mailer", client_key="ck-1", base_url="https://acme.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(jira.id, SECRET)
    wiki = runtime.tenants.create(
        app_key="notes",
        installation_id="ari:cloud:ecosystem::installation/1",
        cloud_id="c-1",
        base_url="https://globex.atlassian.net/wiki",
        product_type="confluence",
    )
    runtime.tenants.transition(wiki.id, TenantState.UNINSTALLED)
    runtime.close()
    runner = CliRunner()

    listed = runner.invoke(cli, ["tenants", "list"])
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "APP", "PRODUCT", "STATE"]
    assert [row.split()[:5] for row in rows] == [
        [jira.id, "mailer", "jira", "installed", "acme.atlassian.net"],
        [wiki.id, "notes", "confluence", "uninstalled", "globex.atlassian.net"],
    ]
    assert "/wiki" not in listed.stdout and SECRET not in listed.stdout

    uninstalled = runner.invoke(cli, ["tenants", "list", "--state", "uninstalled", "--json"])
    assert [json.loads(line)["id"] for line in uninstalled.stdout.splitlines()] == [wiki.id]
    assert [
        json.loads(line)["id"]
        for line in runner.invoke(cli, ["tenants", "list", "--app", "mailer", "--json"]).stdout.splitlines()
    ] == [jira.id]

    shown = runner.invoke(cli, ["tenants", "show", wiki.id, "--json"])
    details = json.loads(shown.stdout)
    assert details["base_url"] == "https://globex.atlassian.net/wiki"
    assert (details["installation_id"], details["cloud_id"], details["client_key"]) == (
        "ari:cloud:ecosystem::installation/1",
        "c-1",
        None,
    )
    assert details["created_at"].endswith("Z")
    text = runner.invoke(cli, ["tenants", "show", jira.id])
    assert text.exit_code == 0 and "base_url" in text.stdout and SECRET not in text.stdout


def test_an_unknown_tenant_or_an_unmigrated_database_is_one_line(data_dir: Path) -> None:
    runner = CliRunner()
    unmigrated = runner.invoke(cli, ["tenants", "list"])
    assert unmigrated.exit_code == 1 and unmigrated.stderr.startswith("pledge: ") and unmigrated.stderr.count("\n") == 1
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    runtime.close()
    missing = runner.invoke(cli, ["tenants", "show", "0" * 32])
    assert (missing.exit_code, missing.stderr) == (1, "pledge: no such tenant\n")
    assert runner.invoke(cli, ["tenants", "list"]).stdout.split() == [
        "ID",
        "APP",
        "PRODUCT",
        "STATE",
        "HOST",
        "CLIENT",
        "KEY",
        "INSTALLATION",
        "ID",
        "CREATED",
        "STATE",
        "CHANGED",
    ]
