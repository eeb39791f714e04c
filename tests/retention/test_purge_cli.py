"""`pledge purge` and `pledge tenants show`: an operator deletes a site on request, with a reason the ledger keeps
(bounded, no personal data), after a confirmation; the timeline says what happened and when."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledge import schema
from pledge.cli import cli
from pledge.config import load_settings
from pledge.errors import ConfigurationError
from pledge.runtime import Runtime
from pledge.tenants import Tenant, TenantState


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    return runtime


def _site(runtime: Runtime) -> Tenant:
    return runtime.tenants.create(
        app_key="mailer", client_key="ck-1", base_url="https://acme.atlassian.net", product_type="jira"
    )


def test_purge_keeps_its_reason_and_show_tells_the_timeline(deployment: Runtime) -> None:
    site = _site(deployment)
    deployment.tenants.transition(site.id, TenantState.UNINSTALLED)
    runner = CliRunner()
    shown = runner.invoke(cli, ["tenants", "show", site.id, "--json"])
    assert [step["event"] for step in json.loads(shown.stdout)["timeline"]] == [
        "installed",
        "uninstalled",
        "deletion_due",
    ]

    declined = runner.invoke(cli, ["purge", "--tenant", site.id, "--reason", "ticket OPS-7"], input="n\n")
    assert declined.exit_code == 1 and deployment.tenants.get(site.id).state is TenantState.UNINSTALLED

    purged = runner.invoke(cli, ["purge", "--tenant", site.id, "--reason", "  ticket OPS-7 "], input="y\n")
    assert purged.exit_code == 0, purged.output
    assert purged.stdout.startswith(f"tenant {site.id} purged at ")

    shown = runner.invoke(cli, ["tenants", "show", site.id])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[:4] == [f"id      {site.id}", "state   purged", "cause   operator", "reason  ticket OPS-7"]
    assert lines[4] == "timeline:" and lines[5].endswith("purge_due") and lines[6].endswith("purged")
    deployment.close()


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("asked by alice@example.com", "personal data (email)"),
        ("x" * 201, "1 to 200 characters"),
        ("two\nlines", "one line"),
        ("   ", "1 to 200 characters"),
    ],
)
def test_a_reason_the_ledger_cannot_keep_is_refused_before_anything_happens(
    deployment: Runtime, reason: str, said: str
) -> None:
    site = _site(deployment)
    refused = CliRunner().invoke(cli, ["purge", "--tenant", site.id, "--reason", reason, "--yes"])
    assert refused.exit_code == 1 and said in refused.stderr and refused.stderr.count("\n") == 1
    assert "alice" not in refused.stderr
    assert deployment.tenants.get(site.id).is_active
    deployment.close()


def test_a_grace_shorter_than_the_promise_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 30: the statement promises an uninstalled site's data"):
        load_settings(data_dir=tmp_path, deletion_grace_days=29)
    assert load_settings(data_dir=tmp_path, deletion_grace_days=45).deletion_grace_days == 45
