"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL; time is a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from pledge import schema
from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.db import open_engine
from pledge.runtime import Runtime

IN_CI = os.environ.get("CI") == "true"
POSTGRES_URL = os.environ.get("PLEDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require(available: bool, reason: str) -> None:
    """Skip a test that needs a missing service, except in CI, where a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services are mandatory)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PLEDGE_") and name != "PLEDGE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        engine.dispose()
        require(False, f"PostgreSQL is not reachable at {POSTGRES_URL} (set PLEDGE_TEST_POSTGRES_URL)")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh, empty schema of its own for one test, dropped afterwards."""
    name = f"pledge_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pledge.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def blank_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database, before any migration."""
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(blank_engine: Engine) -> Engine:
    schema.upgrade(blank_engine)
    return blank_engine


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[Runtime]:
    opened = Runtime.open(settings, clock=clock, engine=engine)
    yield opened
    opened.close()
