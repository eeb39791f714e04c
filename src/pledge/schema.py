"""Bring the database to the current schema, once, even when several instances start together."""

from __future__ import annotations

import fcntl
import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from pledge.db import error_reason
from pledge.errors import PledgeError

_LOCK_KEY = int.from_bytes(hashlib.sha256(b"pledge.schema").digest()[:8], "big", signed=True)


class DatabaseUnavailable(PledgeError):
    """The database cannot be reached or used."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: tuple[str, ...]
    expected: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return set(self.current) == set(self.expected)

    def describe(self) -> str:
        if self.is_current:
            return f"schema is current ({', '.join(self.expected)})"
        have = ", ".join(self.current) or "empty"
        return f"schema is at {have}, expected {', '.join(self.expected)}: run `pledge db upgrade`"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "pledge:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def expected_heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(_config()).get_heads()))


def is_known_revision(revision: str) -> bool:
    """Whether this release's migrations include ``revision`` (a newer release's revision is unknown here)."""
    return revision in _known_revisions()


@functools.cache
def _known_revisions() -> frozenset[str]:
    # The migrations are this release's files: read once, not at every restore.
    return frozenset(script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def current_revision(connection: Connection) -> str:
    """The database's revision, one head (Pledge's migrations are linear)."""
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads))


def status(engine: Engine) -> SchemaStatus:
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"database unreachable: {error_reason(exc)}") from None
    return SchemaStatus(current=tuple(sorted(current)), expected=expected_heads())


def upgrade(engine: Engine, revision: str = "heads") -> SchemaStatus:
    """Apply every pending migration (up to ``revision``) under a lock that serialises concurrent instances."""
    try:
        with _migration_lock(engine), engine.begin() as connection:
            command.upgrade(_config(connection), revision)
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(f"database unreachable: {error_reason(exc)}") from None
    return status(engine)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    # SQLite lives on one machine: a file lock beside the database serialises every process that opens it.
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
