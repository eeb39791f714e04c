"""The host as ``pledge serve`` builds it: both example apps mounted beside the statement's pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.forge_notes.app import app as forge_notes
from examples.issue_mailer.app import app as issue_mailer
from sqlalchemy import Engine
from starlette.applications import Starlette

from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.statement.pages import serve_statement

# Nothing listens there: a token that gets as far as fetching keys is refused, and no test reaches the network.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        forge_jwks_url=f"{UNREACHABLE}/.well-known/jwks.json",
        connect_install_keys_url=f"{UNREACHABLE}/keys",
        atlassian_api_url=UNREACHABLE,
    )


@pytest.fixture
def served_host(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[Starlette]:
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    apps = [issue_mailer, forge_notes]
    yield create_host(runtime, apps, extra_routes=asyncio.run(serve_statement(runtime, apps)))
    runtime.close()
