"""What an operator meets when a setting is wrong: one line, exit 2, no traceback, never a password; private files."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge import schema
from pledge.cli import cli
from pledge.config import Settings, load_settings
from pledge.egress import OutboundClient
from pledge.errors import ConfigurationError
from pledge.runtime import Runtime

PASSWORD = "hunter2-Zq9"


def assert_one_line_refusal(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("pledge: ")
    return result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://pledge:{PASSWORD}@db.internal/pledge",
        f"postgresql+psycopg://pledge:{PASSWORD}@db.internal:notaport/pledge",
        f"postgresql+psycopg://pledge:{PASSWORD}@[::1/pledge",
        f"postgresql+psycopg://pledge:{PASSWORD}/x@@db.internal:1.5/pledge",
    ],
)
def test_a_bad_database_url_is_one_line_without_its_password(url: str) -> None:
    """The URL was echoed whole, password included; a port SQLAlchemy could not parse ended in a traceback."""
    stderr = assert_one_line_refusal(CliRunner().invoke(cli, ["db", "status"], env={"PLEDGE_DATABASE_URL": url}))
    assert "PLEDGE_DATABASE_URL" in stderr and PASSWORD not in stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"region = \n", "is not valid TOML: Invalid value (at line 1, column 10)"),
        (b'region = "eu-west-1\n', "is not valid TOML"),
        (b"\xff\xfe region", "is not UTF-8 text (byte 0)"),
        (b"[[[", "is not valid TOML"),
    ],
)
def test_a_malformed_config_file_is_one_line_and_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    """The README promises one line and exit 2; tomllib's error was a traceback."""
    config = tmp_path / "pledge.toml"
    config.write_bytes(content)
    for command in (["db", "status"], ["keys", "rotate-kek"], ["config"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *command])
        assert result.exit_code == 2, result.output
        assert expected in result.stderr.splitlines()[-1] and "Traceback" not in result.output


def test_pledge_config_with_a_bad_setting_shows_the_defaults_themselves() -> None:
    """A setting whose default comes from a factory was listed as `PydanticUndefined`."""
    result = CliRunner().invoke(cli, ["config"], env={"PLEDGE_PORT": "eighty"})
    assert result.exit_code == 2
    assert "PydanticUndefined" not in result.output
    peers = next(line for line in result.stdout.splitlines() if line.startswith("PLEDGE_FORGE_PEERS "))
    assert peers.split()[1:3] == ["-", "default"]


def test_a_secret_setting_is_not_shown_even_when_the_settings_do_not_load() -> None:
    result = CliRunner().invoke(cli, ["config"], env={"PLEDGE_PORT": "eighty", "PLEDGE_FORGE_TRANSFER_KEY": PASSWORD})
    assert result.exit_code == 2 and PASSWORD not in result.output


def test_a_typo_in_the_sqlite_path_creates_no_directory(tmp_path: Path) -> None:
    """`sqlite:////srv/pledeg/data/pledge.db` made the directories of the typo on `pledge db upgrade`."""
    typo = tmp_path / "pledeg" / "data"
    env = {"PLEDGE_DATA_DIR": str(tmp_path / "data"), "PLEDGE_DATABASE_URL": f"sqlite:///{typo / 'pledge.db'}"}
    stderr = assert_one_line_refusal(CliRunner().invoke(cli, ["db", "upgrade"], env=env))
    assert f"directory {typo} does not exist" in stderr and "PLEDGE_DATABASE_URL" in stderr
    assert not (tmp_path / "pledeg").exists()


def test_only_the_data_dir_itself_is_created(tmp_path: Path) -> None:
    missing_parent = tmp_path / "srv" / "pledge"
    with pytest.raises(ConfigurationError, match=r"PLEDGE_DATA_DIR=.*its parent directory does not exist"):
        Runtime.open(load_settings(data_dir=missing_parent))
    assert not (tmp_path / "srv").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="is a file, not a directory"):
        Runtime.open(load_settings(data_dir=tmp_path / "file"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_0700_and_the_sqlite_files_0600_whatever_the_umask(tmp_path: Path) -> None:
    """The data directory was created 0755 and pledge.db, -wal and -shm 0644: readable by every local user."""
    previous = os.umask(0o022)
    try:
        runtime = Runtime.open(load_settings(data_dir=tmp_path / "data"))
        schema.upgrade(runtime.engine)
        with runtime.engine.connect() as connection:  # holds the WAL open so -wal and -shm exist
            connection.exec_driver_sql("SELECT 1")
            files = {path.name: mode(path) for path in (tmp_path / "data").iterdir()}
        runtime.close()
    finally:
        os.umask(previous)
    assert mode(tmp_path / "data") == 0o700
    private = ("pledge.db", "pledge.db-wal", "pledge.db-shm", "keyring.json")
    assert {name: oct(files[name]) for name in private} == dict.fromkeys(private, oct(0o600))


def test_a_database_an_earlier_version_left_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "pledge.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    (tmp_path / "pledge.db-wal").write_bytes(b"")
    (tmp_path / "pledge.db-wal").chmod(0o644)
    runtime = Runtime.open(load_settings(data_dir=tmp_path))
    runtime.close()
    assert (mode(database), mode(tmp_path / "pledge.db-wal")) == (0o600, 0o600)


async def test_a_key_server_that_cannot_be_reached_names_the_setting_to_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Forge FITs were refused with a bare 401 when PLEDGE_FORGE_JWKS_URL still pointed at Atlassian."""
    runtime = Runtime.open(load_settings(data_dir=tmp_path, forge_jwks_url="http://127.0.0.1:9/jwks.json"))
    with caplog.at_level(logging.WARNING, logger="pledge.egress"), pytest.raises(httpx.ConnectError):
        await runtime.egress.request("GET", "http://127.0.0.1:9/jwks.json")
    assert "check the setting PLEDGE_FORGE_JWKS_URL" in caplog.text
    await runtime.egress.aclose()
    runtime.close()

    answering = OutboundClient(
        ["https://keys.example"],
        transport=httpx.MockTransport(lambda request: httpx.Response(404)),
        sources={"https://keys.example": "PLEDGE_CONNECT_INSTALL_KEYS_URL"},
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pledge.egress"):
        await answering.request("GET", "https://keys.example/5b2a")
    assert "answered 404: check the setting PLEDGE_CONNECT_INSTALL_KEYS_URL" in caplog.text
    await answering.aclose()


# The class: any value in any setting, a password somewhere in it -> it loads, or exit 2 with one line that never
# shows the password (and `pledge config` never shows it either).

URL_SETTINGS = frozenset(
    {"database_url", "base_url", "backup_target", "connect_install_keys_url", "forge_jwks_url", "atlassian_api_url"}
)
passwords = st.text(st.characters(codec="ascii", categories=("L", "N", "P", "S")), min_size=4, max_size=20).map(
    lambda tail: "Zq9" + tail
)
junk = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
schemes = st.sampled_from(["postgresql+psycopg", "sqlite", "https", "mysql", "", "x"])


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(Settings.model_fields)),
    scheme=schemes,
    user=st.from_regex(r"[a-z]{0,8}", fullmatch=True),
    password=passwords,
    before=junk,
    after=junk,
)
def test_junk_with_a_password_in_any_setting_loads_or_is_one_line_without_it(
    name: str, scheme: str, user: str, password: str, before: str, after: str
) -> None:
    value = f"{before}{scheme}://{user}:{password}@{after}"
    if name == "forge_peers":
        value = f"EU={value}"
    variable = f"PLEDGE_{name.upper()}"
    with tempfile.TemporaryDirectory() as directory:
        env = {variable: value} if name == "data_dir" else {variable: value, "PLEDGE_DATA_DIR": directory}
        result = CliRunner().invoke(cli, ["config"], env=env)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "PydanticUndefined" not in result.output
    assert password not in result.stderr
    if name in URL_SETTINGS or name == "forge_peers":
        assert password not in result.stdout
    if result.exit_code == 2:
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("pledge: ")


@settings(max_examples=150, deadline=None)
@given(
    content=st.binary(max_size=60) | st.text(max_size=60).map(str.encode),
    password=passwords,
    key=st.sampled_from(["database_url", "backup_target", "base_url", "region", "forge_transfer_key"]),
)
def test_any_bytes_in_the_config_file_load_or_are_one_line_without_the_password(
    content: bytes, password: str, key: str
) -> None:
    line = f'{key} = "postgresql+psycopg://u:{password}@h:x/db"\n'.encode()
    with tempfile.TemporaryDirectory() as directory:
        config = Path(directory) / "pledge.toml"
        config.write_bytes(content[:30] + line + content[30:])
        result = CliRunner().invoke(cli, ["--config", str(config), "config"], env={"PLEDGE_DATA_DIR": directory})
        try:
            load_settings(config, data_dir=Path(directory))
        except ConfigurationError as exc:
            assert "\n" not in str(exc) and password not in str(exc)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and password not in result.output
    if result.exit_code == 2:
        assert result.stderr.splitlines()[-1].startswith("pledge: ")
        assert all(line.startswith("pledge: ") or line.endswith("(a typo?)") for line in result.stderr.splitlines())
