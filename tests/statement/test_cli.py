"""``pledge statement``: show, versions, compare, verify and marketplace, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pledge.cli import cli
from pledge.config import load_settings
from pledge.db import open_engine
from pledge.statement.verify import VerificationLog

WIDE = {"COLUMNS": "240"}  # one table row per line, so a row can be read whole


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
    return tmp_path


def _run(*args: str, region: str = "us-east-1") -> Result:
    return CliRunner().invoke(cli, ["statement", *args], env={**WIDE, "PLEDGE_REGION": region})


def _row(output: str, claim: str) -> str:
    return next(line for line in output.splitlines() if f" {claim} " in line)


def test_show_prints_the_markdown_and_versions_lists_it(data_dir: Path) -> None:
    shown = _run("show")
    assert shown.exit_code == 0
    assert shown.stdout.startswith("# Data Security & Privacy Statement\n")
    assert "hosted in the **US East (N. Virginia)** region (`us-east-1`)" in shown.stdout
    listed = _run("versions")
    assert listed.exit_code == 0
    assert "current" in _row(listed.stdout, "1")


def test_region_change_then_compare_in_the_terminal(data_dir: Path) -> None:
    assert _run("show").exit_code == 0
    assert _run("show", region="us-west-2").exit_code == 0
    assert _run("show", "--version", "1").stdout.count("us-west-2") == 0

    compared = _run("compare", "1", "2", region="us-west-2")
    assert compared.exit_code == 0
    assert "3 words added, 4 removed, 0 formatting changes" in compared.stdout
    assert "Key: {+This line was added.+}  [-This line was removed.-]  {~Formatting was changed.~}" in compared.stdout
    changed = "in the **US [-East-]{+West+} ([-N. Virginia-]{+Oregon+})** region (`[-us-east-1-]{+us-west-2+}`)"
    assert changed in compared.stdout
    assert (compared.stdout.count("{+"), compared.stdout.count("[-")) == (4, 4)  # the change, and the Key


def test_compare_an_unknown_version_is_one_line(data_dir: Path) -> None:
    result = _run("compare", "1", "5")
    assert result.exit_code == 1
    assert result.stderr == "pledge: there is no statement version 5: `pledge statement versions` lists them\n"


def test_verify_fails_when_the_keyring_is_readable_by_others(data_dir: Path) -> None:
    keyring = data_dir / "keyring.json"
    baseline = _run("verify")
    assert "passed" in _row(baseline.stdout, "keyring-private")

    keyring.chmod(0o644)
    loosened = _run("verify")
    assert loosened.exit_code == 1
    row = _row(loosened.stdout, "keyring-private")
    assert "failed" in row and "has mode 0644, readable by others: run `chmod 600" in row
    assert "missing" in _row(loosened.stdout, "staff-audit")
    assert loosened.stderr.startswith("pledge: statement verification failed: ")

    engine = open_engine(load_settings(data_dir=data_dir).resolved_database_url)
    recorded = VerificationLog(engine).latest()
    engine.dispose()
    assert recorded is not None and not recorded.passed
    assert {r.claim_id: r.outcome.value for r in recorded.results}["keyring-private"] == "failed"


def test_verify_says_how_to_fix_an_old_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    result = _run("verify")
    assert result.exit_code == 1
    assert "run `pledge db upgrade`" in result.stderr


def test_marketplace_prints_the_answers_as_json(data_dir: Path) -> None:
    result = _run("marketplace", region="eu-west-1")
    assert result.exit_code == 0
    answers = json.loads(result.stdout)
    assert answers["source"].startswith("https://developer.atlassian.com/platform/marketplace/rest/v2/")
    assert answers["pledge"]["claims"]["staff-audit"] == "missing"
    # The region is stated only as far as its check held.
    hosting = answers["pledge"]["hosting"]
    assert hosting == (
        {"region": "eu-west-1", "regionName": "Europe (Ireland)", "provider": None}
        if answers["pledge"]["claims"]["hosting-region"] == "passed"
        else None
    )
    assert answers["apps"] == []  # no app is served
    unknown = _run("marketplace", "--app", "nothing-here")
    assert unknown.exit_code != 0 and "no served app has the key 'nothing-here'" in unknown.stderr
