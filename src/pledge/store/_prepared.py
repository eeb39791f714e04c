"""Statements compiled once and run on the driver's cursor: the store's hot path (S2's speed target, bench/).

``Connection.execute`` derives a statement's cache key, sorts out its parameters, builds result metadata and Row
objects on every call. On SQLite that was 46 µs of a 95 µs read by id, where the driver's own execute and fetch took
8 µs (timeit), and ``exec_driver_sql`` still 34; it was also about a tenth of a store write (78 k of 740 k
instructions, callgrind). A :class:`Prepared` statement does only what is left: it converts parameters and rows with
the columns' own bind and result processors, as ``execute`` would, and runs on the cursor of the SQLAlchemy
connection it is given, inside that connection's transaction.

Driver errors are raised as SQLAlchemy's, without their parameters (they may be sealed payloads or digests), and a
lost connection is invalidated, as ``execute`` would do. Statement logging (``echo``) and cursor events are skipped:
Pledge uses neither. Private to the store: its hot statements run here; an app's data goes through the store, where
the data manifest and the personal-data guard apply (S2), never through SQL of its own.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Insert, LargeBinary, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.types import TypeEngine

_Process = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement in one dialect's SQL, with what converts its parameters and rows. Get it from :func:`prepare`."""

    sql: str
    arrange: Callable[[dict[str, Any]], Any]
    """Named parameters as the driver takes them: the dict itself, or a tuple in placeholder order."""
    defaults: dict[str, Any]
    """Values the statement binds itself, such as the ``OFFSET 0`` SQLite puts after a ``LIMIT``."""
    binds: tuple[tuple[str, _Process], ...]
    results: tuple[tuple[int, _Process], ...]

    def execute(self, connection: Connection, parameters: dict[str, Any]) -> int:
        """Run a statement that returns no rows; the number of rows it changed. ``parameters`` are converted in
        place: build them for each call."""
        cursor = self._run(connection, parameters)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def rows(self, connection: Connection, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run a query; its rows as tuples of converted values. ``parameters`` are converted in place."""
        cursor = self._run(connection, parameters)
        try:
            fetched: list[tuple[Any, ...]] = list(cursor.fetchall())
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped_error(connection, self.sql, error) from error
        finally:
            cursor.close()
        if not self.results:
            return fetched
        converted = []
        for fetched_row in fetched:
            row = list(fetched_row)
            for position, process in self.results:
                row[position] = process(row[position])
            converted.append(tuple(row))
        return converted

    def _run(self, connection: Connection, parameters: dict[str, Any]) -> DBAPICursor:
        if self.defaults:
            parameters.update(self.defaults)
        for name, process in self.binds:
            if parameters[name] is not None:  # SQLAlchemy's processors keep None as None
                parameters[name] = process(parameters[name])
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, self.arrange(parameters))
        except connection.dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise _wrapped_error(connection, self.sql, error) from error
        return cursor


@functools.lru_cache(maxsize=512)
def prepare(statement: ClauseElement, dialect: Dialect, columns: tuple[str, ...] | None = None) -> Prepared:
    """``statement`` compiled for ``dialect``, once per process. An INSERT takes a parameter for each of
    ``columns`` (default: every column of its table; the others get their defaults); any other statement, its bound
    parameters by name. Give statements built once (module constants or cached builders): the cache is keyed by the
    statement object."""
    column_keys = None
    if isinstance(statement, Insert):
        column_keys = list(columns) if columns is not None else [column.key for column in statement.table.columns]
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=column_keys))
    named = compiled.bind_names.items()
    defaults = {name: bind.effective_value for bind, name in named if not bind.required}
    binds = tuple(
        (name, process) for bind, name in named if (process := _bind_processor(bind.type, dialect)) is not None
    )
    selected = statement.selected_columns if isinstance(statement, Select) else ()
    results = tuple(
        (position, process)
        for position, column in enumerate(selected)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    )
    return Prepared(str(compiled), _arrangement(compiled), defaults, binds, results)


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> _Process | None:
    if dialect.driver == "pysqlite" and isinstance(type_, LargeBinary):
        # sqlite3 (Python 3.11) binds int, float, str and bytearray directly and runs anything else through its
        # adaptation protocol, which formats an error and discards it: bytes, None, and the memoryview SQLAlchemy
        # wraps a blob in. Five such parameters took 3.4 µs to bind, five bytearrays 1.6 (timeit). Same blob stored.
        return bytearray
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _arrangement(compiled: SQLCompiler) -> Callable[[dict[str, Any]], Any]:
    if not compiled.positional:
        return lambda parameters: parameters
    order = compiled.positiontup or []
    if len(order) == 1:
        return lambda parameters: (parameters[order[0]],)
    return operator.itemgetter(*order)


def _wrapped_error(connection: Connection, sql: str, error: Exception) -> StatementError:
    """``error`` (the driver's own) as SQLAlchemy raises it; the connection invalidated if it was lost."""
    dialect = connection.dialect
    disconnected = dialect.is_disconnect(cast(Any, error), connection.connection.dbapi_connection, None)
    if disconnected:
        connection.invalidate(error)
    return DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=disconnected,
        dialect=dialect,
    )
