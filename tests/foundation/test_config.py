from pathlib import Path

import pytest
from click.testing import CliRunner

from pledge.cli import cli
from pledge.config import load_settings
from pledge.errors import ConfigurationError


def test_defaults_serve_on_loopback_with_sqlite_in_the_data_dir() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.dev_mode is True
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("pledge-data/pledge.db")


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pledge.toml"
    config.write_text('region = "eu-west-1"\nport = 9000\napps = ["examples.a:app"]\n')
    monkeypatch.setenv("PLEDGE_PORT", "9100")
    settings = load_settings(config)
    assert (settings.region, settings.port, settings.apps) == ("eu-west-1", 9100, ("examples.a:app",))


def test_apps_are_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_APPS", "one.app:app, two:application")
    assert load_settings().apps == ("one.app:app", "two:application")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PLEDGE_REGION", "mars", "invalid setting PLEDGE_REGION='mars': must be a cloud region name"),
        ("PLEDGE_PORT", "eighty", "invalid setting PLEDGE_PORT='eighty'"),
        ("PLEDGE_BACKUP_RETENTION_DAYS", "7", "must be at least 30"),
        ("PLEDGE_HOST", "0.0.0.0", "PLEDGE_HOST='0.0.0.0': development mode serves plain HTTP on loopback only"),
        ("PLEDGE_DATABASE_URL", "mysql://x", "must start with sqlite:// or postgresql+psycopg://"),
        ("PLEDGE_APPS", "no-colon", "is not a `module:attribute` import path"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, ["db", "status"])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_production_mode_requires_an_https_base_url() -> None:
    with pytest.raises(ConfigurationError, match=r"PLEDGE_BASE_URL='http://app\.example\.com': .* must be https"):
        load_settings(dev_mode=False, host="0.0.0.0", base_url="http://app.example.com")
    assert load_settings(dev_mode=False, host="0.0.0.0", base_url="https://app.example.com").dev_mode is False


def test_unknown_key_in_the_toml_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "pledge.toml"
    config.write_text('regoin = "eu-west-1"\n')
    with pytest.raises(ConfigurationError, match="unknown setting 'regoin'"):
        load_settings(config)


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "db", "status"])
    assert result.exit_code == 2
    assert "nope.toml does not exist" in result.stderr


def test_a_misspelt_variable_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_REGOIN", "eu-west-1")
    result = CliRunner().invoke(cli, ["db", "status"])
    assert result.exit_code == 2
    assert result.stderr == "pledge: unknown setting PLEDGE_REGOIN: see `pledge config` for the settings there are\n"
