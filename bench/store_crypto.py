"""What encryption costs the store (S2, S4): encrypted writes and reads through the tenant store against the same
operations on plain SQLAlchemy rows, on the same engine, in the same run. Target: at most 25 % overhead.

Plain rows are what an app would write without Pledge: one table with a column per field and database indexes on
the filtered columns (ending in the id, as the store's do), ids shaped like the store's (time first, so both sides
append to their primary keys), one transaction per write. The store seals each record under the tenant's data key,
scans the fields not declared personal for personal data, and writes the blind index of each indexed field into its
slot of the record's row. "write, no index" compares a collection without indexed fields against a plain table
without secondary indexes: what sealing and the PII guard cost, apart from the blind indexes. The sides alternate
every 50 operations so that the machine's load and SQLite's checkpoints affect all alike; the median of the rounds
is reported.

Plain rows run their statements with ``connection.execute`` (SQLAlchemy Core, as an app would): that is the
target's baseline. The store runs its insert, select by id and filtered list on the driver's cursor through
:mod:`pledge.store._prepared`, which skips what ``execute`` does on every call (46 of a 95 µs SQLite read); so a
third side, "plain, driver", runs the same plain rows that way too, and the "sealing" column, the store against
it, is what sealing, blind indexes and the PII guard cost alone.

Run: .venv/bin/python -m bench store_crypto   (or PYTHONPATH=src .venv/bin/python bench/store_crypto.py)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Insert,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    text,
)

from bench.harness import PostgresUnreachable, postgres_schema
from pledge import schema
from pledge.clock import SystemClock
from pledge.db import UtcDateTime, open_engine
from pledge.store import Category, Collection, DataManifest, Field, Secret, TenantStore
from pledge.store._prepared import prepare
from pledge.vault import LocalKeyring, Vault

ROUNDS = 3
CHUNK = 50
TARGET_OVERHEAD = 0.25
MATCHES_PER_LIST = 20

MANIFEST = DataManifest(
    (
        Collection(
            "rules",
            "Which issues are mailed to whom",
            (
                Field("name", Category.CONFIGURATION, "Shown in the list of rules"),
                Field("project", Category.CONFIGURATION, "The project the rule watches", indexed=True),
                Field("recipient", Category.PERSONAL, "The address the mail goes to", indexed=True),
                Field("body", Category.CONTENT, "Template of the mail"),
                Field("smtp_password", Category.SECRET, "Password of the customer's SMTP server"),
            ),
        ),
        Collection(
            "notes",
            "Notes without lookups: isolates what sealing costs from what blind indexes cost",
            (
                Field("name", Category.CONFIGURATION, "Shown in the list of notes"),
                Field("body", Category.CONTENT, "The note"),
            ),
        ),
    )
)

plain_metadata = MetaData()
plain_rules = Table(
    "bench_plain_rules",
    plain_metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("name", Text),
    Column("project", Text),
    Column("recipient", Text),
    Column("body", Text),
    Column("smtp_password", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The id last, as in the store's blind indexes: both sides read a filtered page in id order without sorting.
    Index("ix_bench_plain_project", "tenant_id", "project", "id"),
    Index("ix_bench_plain_recipient", "tenant_id", "recipient", "id"),
)
plain_notes = Table(
    "bench_plain_notes",
    plain_metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("name", Text),
    Column("body", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Built once with bound parameters, as the store's statements are: both sides compile each statement once.
_INSERT = insert(plain_rules)
_INSERT_NOTE = insert(plain_notes)
_GET = select(plain_rules).where(
    plain_rules.c.tenant_id == bindparam("in_tenant"), plain_rules.c.id == bindparam("in_id")
)
_LIST = (
    select(plain_rules)
    .where(plain_rules.c.tenant_id == bindparam("in_tenant"), plain_rules.c.recipient == bindparam("in_recipient"))
    .order_by(plain_rules.c.id)
    .limit(100)
)


@dataclass(frozen=True)
class Workload:
    """Operations per side and round. SQLite writes many more: its WAL checkpoint, a few milliseconds every few
    hundred commits, lands on whichever side commits at the time, and only thousands of writes spread it over both
    sides in proportion to what each writes (600 writes saw two or three checkpoints, and the write figures moved by
    30 points from run to run)."""

    writes: int
    reads: int = 600
    lists: int = 200

    @property
    def recipients(self) -> int:
        """Distinct recipients, so that each filtered list matches about ``MATCHES_PER_LIST`` records."""
        return self.writes // MATCHES_PER_LIST


SQLITE_WORKLOAD = Workload(writes=3000)
POSTGRES_WORKLOAD = Workload(writes=600)


def _values(i: int, recipients: int) -> dict[str, Any]:
    return {
        "name": f"Rule {i}: bugs of the week",
        "project": f"P{i % 10}",
        "recipient": f"team{i % recipients}@example.com",
        "body": "Issue {key} changed: {summary}. See the issue for the full history of changes." * 2,
        "smtp_password": f"smtp-password-{i:06d}",
    }


def _time_ordered_id(now: datetime) -> str:
    """Ids shaped like the store's (milliseconds, then random): random uuid4 keys would land all over the primary
    key's B-tree, which costs the plain side page writes the store's time-ordered ids do not."""
    return f"{int(now.timestamp() * 1000):012x}{os.urandom(10).hex()}"


_Rows = list[dict[str, Any]]


class PlainRows:
    """The same operations an app would write by hand on plain SQLAlchemy Core rows, run with ``Connection.execute``
    or, with ``prepared``, on the driver's cursor as the store runs its own (:mod:`pledge.store._prepared`)."""

    def __init__(self, engine: Engine, tenant_id: str, *, prepared: bool = False) -> None:
        self._engine = engine
        self._tenant_id = tenant_id
        self._prepared = prepared

    def create(self, values: dict[str, Any]) -> str:
        now = datetime.now(UTC)
        record_id = _time_ordered_id(now)
        with self._engine.begin() as connection:
            self._execute(
                connection,
                _INSERT,
                {"tenant_id": self._tenant_id, "id": record_id, "created_at": now, "updated_at": now, **values},
            )
        return record_id

    def create_note(self, values: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            self._execute(
                connection,
                _INSERT_NOTE,
                {"tenant_id": self._tenant_id, "id": _time_ordered_id(now), "created_at": now, "updated_at": now}
                | values,
            )

    def get(self, record_id: str) -> dict[str, Any]:
        with self._engine.connect() as connection:
            (row,) = self._rows(connection, _GET, {"in_tenant": self._tenant_id, "in_id": record_id})
        return row

    def list(self, recipient: str) -> _Rows:
        with self._engine.connect() as connection:
            return self._rows(connection, _LIST, {"in_tenant": self._tenant_id, "in_recipient": recipient})

    def _execute(self, connection: Connection, statement: Insert, parameters: dict[str, Any]) -> None:
        if self._prepared:
            prepare(statement, connection.dialect).execute(connection, parameters)
        else:
            connection.execute(statement, parameters)

    def _rows(self, connection: Connection, query: Select[Any], parameters: dict[str, Any]) -> _Rows:
        if self._prepared:
            names = query.selected_columns.keys()
            rows = prepare(query, connection.dialect).rows(connection, parameters)
            return [dict(zip(names, row, strict=True)) for row in rows]
        return [dict(row._mapping) for row in connection.execute(query, parameters)]


@dataclass(frozen=True)
class Figures:
    """Microseconds per operation of each side."""

    operation: str
    plain_us: float
    driver_us: float
    store_us: float

    @property
    def overhead(self) -> float:
        """What the store costs over plain SQLAlchemy rows: the target."""
        return self.store_us / self.plain_us - 1

    @property
    def sealing(self) -> float:
        """What the store costs over the same plain rows run as the store runs its statements: what sealing, blind
        indexes and the PII guard cost alone."""
        return self.store_us / self.driver_us - 1


_Operation = Callable[[int], object]


def _alternating(sides: tuple[_Operation, ...], count: int) -> tuple[float, ...]:
    """Microseconds per call of each side, measured in alternating chunks so that load and checkpoints hit all."""
    spent = [0.0] * len(sides)
    for start in range(0, count, CHUNK):
        for side, operation in enumerate(sides):
            started = time.perf_counter()
            for i in range(start, min(start + CHUNK, count)):
                operation(i)
            spent[side] += time.perf_counter() - started
    return tuple(total / count * 1e6 for total in spent)


def _measure(engine: Engine, keyring_path: Path, workload: Workload) -> list[Figures]:
    schema.upgrade(engine)
    plain_metadata.create_all(engine)
    vault = Vault(engine, LocalKeyring(keyring_path), SystemClock())
    rounds: dict[str, list[tuple[float, ...]]] = {}
    for _ in range(ROUNDS):
        store = TenantStore(
            engine, vault, SystemClock(), app_key="bench", manifest=MANIFEST, tenant_id=uuid.uuid4().hex
        )
        # Each plain side its own tenant id: their ids and index entries stay apart, as the store's do.
        plain = PlainRows(engine, uuid.uuid4().hex)
        driver = PlainRows(engine, uuid.uuid4().hex, prepared=True)
        for name, figures in _round(engine, store, plain, driver, workload).items():
            rounds.setdefault(name, []).append(figures)
    return [
        Figures(name, *(statistics.median(figures[side] for figures in runs) for side in range(3)))
        for name, runs in rounds.items()
    ]


def _round(
    engine: Engine, store: TenantStore, plain: PlainRows, driver: PlainRows, workload: Workload
) -> dict[str, tuple[float, ...]]:
    """One round of every operation on the three sides (plain, plain on the driver, store), in µs per operation."""
    writes, recipients = workload.writes, workload.recipients
    store.create("rules", _values(0, recipients))  # creates the tenant's data key outside the timed loops
    values = [_values(i, recipients) for i in range(writes)]
    secret_values = [{**v, "smtp_password": Secret(v["smtp_password"])} for v in values]
    ids: tuple[list[str], list[str], list[str]] = ([], [], [])
    write = _alternating(
        (
            lambda i: ids[0].append(plain.create(values[i])),
            lambda i: ids[1].append(driver.create(values[i])),
            lambda i: ids[2].append(store.create("rules", secret_values[i]).id),
        ),
        writes,
    )
    notes = [{"name": v["name"], "body": v["body"]} for v in values]
    write_unindexed = _alternating(
        (
            lambda i: plain.create_note(notes[i]),
            lambda i: driver.create_note(notes[i]),
            lambda i: store.create("notes", notes[i]),
        ),
        writes,
    )
    if engine.dialect.name == "postgresql":
        # Fresh tables have no planner statistics yet; autovacuum would gather them within a minute.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    read = _alternating(
        (
            lambda i: plain.get(ids[0][i % writes]),
            lambda i: driver.get(ids[1][i % writes]),
            lambda i: store.get("rules", ids[2][i % writes]),
        ),
        workload.reads,
    )
    listed = _alternating(
        (
            lambda i: plain.list(f"team{i % recipients}@example.com"),
            lambda i: driver.list(f"team{i % recipients}@example.com"),
            lambda i: store.list("rules", where={"recipient": f"team{i % recipients}@example.com"}, limit=100),
        ),
        workload.lists,
    )
    return {
        "write": write,
        "write, no index": write_unindexed,
        "read by id": read,
        "list by blind index": listed,
    }


@contextmanager
def _engines(scratch: Path) -> Iterator[tuple[str, Engine]]:
    sqlite = open_engine(f"sqlite:///{scratch / 'bench.db'}")
    try:
        yield "SQLite", sqlite
    finally:
        sqlite.dispose()


def _print(engine_name: str, workload: Workload, figures: list[Figures]) -> None:
    print(
        f"\n{engine_name}: {workload.writes} writes, {workload.reads} reads, {workload.lists} filtered lists"
        f" of about {MATCHES_PER_LIST} records per round, median of {ROUNDS}"
    )
    print(
        f"{'operation':<22}{'plain µs/op':>13}{'store µs/op':>13}{'overhead':>10}  target ≤ {TARGET_OVERHEAD:.0%}"
        f"  {'plain, driver µs/op':>20}{'sealing':>9}"
    )
    for f in figures:
        verdict = "ok" if f.overhead <= TARGET_OVERHEAD else "OVER"
        print(
            f"{f.operation:<22}{f.plain_us:>13.0f}{f.store_us:>13.0f}{f.overhead:>+10.0%}  {verdict:<11}"
            f"  {f.driver_us:>20.0f}{f.sealing:>+9.0%}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pledge-bench-store-") as scratch:
        keyring = Path(scratch) / "keyring.json"
        with _engines(Path(scratch)) as (name, engine):
            _print(name, SQLITE_WORKLOAD, _measure(engine, keyring, SQLITE_WORKLOAD))
        try:
            with postgres_schema() as url:
                postgres = open_engine(url)
                try:
                    _print("PostgreSQL", POSTGRES_WORKLOAD, _measure(postgres, keyring, POSTGRES_WORKLOAD))
                finally:
                    postgres.dispose()
        except PostgresUnreachable as exc:
            print(f"\nPostgreSQL skipped: {exc}")


if __name__ == "__main__":
    main()
