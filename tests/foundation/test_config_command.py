"""`pledge config`: what an operator reads to learn the settings there are and where each value came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pledge.cli import cli


def settings_by_variable(output: str) -> dict[str, dict[str, object]]:
    return {entry["variable"]: entry for entry in json.loads(output)["settings"]}


def test_lists_every_setting_with_its_value_and_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pledge.toml"
    config.write_text('region = "eu-west-1"\nport = 9000\n')
    monkeypatch.setenv("PLEDGE_PORT", "9100")
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "--json"])
    assert result.exit_code == 0, result.output
    views = settings_by_variable(result.stdout)
    assert (views["PLEDGE_PORT"]["value"], views["PLEDGE_PORT"]["source"]) == (9100, "environment")
    assert (views["PLEDGE_REGION"]["value"], views["PLEDGE_REGION"]["source"]) == ("eu-west-1", f"config file {config}")
    assert views["PLEDGE_HOST"]["source"] == "default"
    # Defaults are shown resolved: what the process will actually use.
    assert str(views["PLEDGE_DATABASE_URL"]["value"]).startswith("sqlite:///")
    assert views["PLEDGE_BASE_URL"]["value"] == "http://127.0.0.1:9100"


def test_table_names_each_variable_once() -> None:
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["SETTING", "VALUE", "SOURCE"]
    assert any(line.startswith("PLEDGE_REGION ") and " us-east-1 " in line for line in lines)
    assert sum(line.startswith("PLEDGE_") for line in lines) == len(lines) - 1


def test_a_password_in_the_database_url_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATABASE_URL", "postgresql+psycopg://pledge:hunter2@db.internal:5432/pledge")
    for arguments in (["config"], ["config", "--json"]):
        result = CliRunner().invoke(cli, arguments)
        assert "hunter2" not in result.output
        assert "postgresql+psycopg://pledge:***@db.internal:5432/pledge" in result.output


def test_a_misspelt_variable_is_pointed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_REGOIN", "eu-west-1")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "PLEDGE_REGOIN is not a setting" in result.stderr
    assert "PLEDGE_REGION" in result.stdout


def test_settings_are_listed_even_when_they_do_not_load(tmp_path: Path) -> None:
    """The one-line error for an unknown setting says "see `pledge config`": that must not fail the same way."""
    config = tmp_path / "pledge.toml"
    config.write_text('regoin = "eu-west-1"\n')
    load_error = CliRunner().invoke(cli, ["--config", str(config), "db", "status"])
    assert "see `pledge config`" in load_error.stderr
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert "PLEDGE_REGION" in settings_by_variable(result.stdout)
    assert document["unknown"] == [f"regoin (in {config})"]
    assert "unknown setting 'regoin'" in result.stderr
