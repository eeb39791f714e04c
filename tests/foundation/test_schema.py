import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from pledge import schema
from pledge.cli import cli
from pledge.db import open_engine


def test_upgrade_creates_the_schema_and_is_idempotent(blank_engine: Engine) -> None:
    assert not schema.status(blank_engine).is_current
    assert schema.upgrade(blank_engine).is_current
    assert schema.upgrade(blank_engine).is_current
    assert {"tenants", "data_keys"} <= set(inspect(blank_engine).get_table_names())


def test_status_of_an_older_schema_says_how_to_fix_it(blank_engine: Engine) -> None:
    status = schema.status(blank_engine)
    assert status.current == ()
    assert "run `pledge db upgrade`" in status.describe()


def _upgrade(url: str) -> None:
    schema.upgrade(open_engine(url))


def test_concurrent_upgrades_do_not_race(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_upgrade, args=(database_url,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert schema.status(open_engine(database_url)).is_current


def test_cli_db_upgrade_then_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    before = runner.invoke(cli, ["db", "status"])
    assert before.exit_code == 1
    assert "run `pledge db upgrade`" in before.stderr
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    after = runner.invoke(cli, ["db", "status"])
    assert after.exit_code == 0, after.output
    assert "schema is current" in after.stdout


def test_unreachable_database_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLEDGE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr.startswith("pledge: database unreachable: ")
    assert result.stderr.count("\n") == 1


def test_database_errors_never_show_the_statements_parameters(engine: Engine) -> None:
    secret = "personal-data-or-a-secret-in-a-parameter"
    with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE x = :value"), {"value": secret})
    assert "no_such_table" in str(raised.value)  # the statement is still there to debug with
    assert secret not in str(raised.value)
