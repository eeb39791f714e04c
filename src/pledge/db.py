"""The storage engine: SQLite by default, PostgreSQL in production, one schema for both.

Every package declares its tables on :data:`metadata`; Alembic migrations (``pledge.migrations``) create them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from pledge.config import mask_passwords
from pledge.errors import ConfigurationError

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
PRIVATE_FILE_MODE: Final = 0o600
_SQLITE_COMPANIONS: Final = ("", "-wal", "-shm", "-journal")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite forgets the zone, PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Pledge stores timezone-aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def open_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Pledge relies on (WAL, foreign keys, busy timeout on SQLite).

    Its errors never show the statement's parameters: they can be tenants' sealed secrets, digests or personal data,
    and an error's text reaches logs.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            _prepare_sqlite_file(Path(database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _prepare_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only, in a directory that must exist already.

    SQLite gives its -wal and -shm files the database file's mode, so they are private too. A missing directory is
    refused rather than created: it is far more often a typo in the URL than a wish for a new tree.
    """
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"the SQLite database's directory {path.parent} does not exist: create it or correct PLEDGE_DATABASE_URL"
        )
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    # Files an earlier version created readable by others (0644) are narrowed when their owner opens them.
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(companion.stat().st_mode) & 0o077:
                companion.chmod(PRIVATE_FILE_MODE)


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def error_reason(exc: BaseException) -> str:
    """What a database error says failed, in one line: the driver's own first line (refused, unknown host, disk
    full, auth), without the statement or the rest, which may repeat the URL, and with any password masked."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip()
    return mask_passwords(text.splitlines()[0]) if text else type(original).__name__


POSTGRES_DISK_FULL: Final = "53100"


def is_disk_full(exc: BaseException) -> bool:
    """Whether a database error is the disk (or the database's size limit) being full: SQLite's ``SQLITE_FULL``,
    PostgreSQL's ``disk_full``. Unlike an outage it does not pass by itself: an operator has to free space."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, sqlite3.Error):
        return getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(original, "sqlstate", None) == POSTGRES_DISK_FULL


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on any error."""
    with engine.begin() as connection:
        yield connection
