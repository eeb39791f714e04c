"""One consistent read of the whole database while the server keeps serving (docs/backup-format.md, Consistency).

PostgreSQL: one ``REPEATABLE READ, READ ONLY`` transaction, a snapshot taken at its first statement. SQLite: one
read transaction opened with ``BEGIN`` (the driver would otherwise run each read on its own); in WAL mode writers
go on while it is open, and it sees the database as of its first read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with connection.begin():
                yield connection
            return
        with connection.begin():
            connection.exec_driver_sql("BEGIN")
            try:
                yield connection
            finally:
                connection.rollback()
