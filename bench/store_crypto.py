"""What encryption costs the store (S2, S4): encrypted writes and reads through the tenant store against the same
operations on plain SQLAlchemy rows, on the same engine, in the same run. Target: at most 25 % overhead.

Plain rows are what an app would write without Pledge: one table with a column per field and database indexes on
the filtered columns (ending in the id, as the store's do), ids shaped like the store's (time first, so both sides
append to their primary keys), one transaction per write. The store seals each record under the tenant's data key,
scans the fields not declared personal for personal data, and writes the blind index of each indexed field into its
slot of the record's row. "write, no index" compares a collection without indexed fields against a plain table
without secondary indexes: what sealing and the PII guard cost, apart from the blind indexes. Plain and store
alternate every 50 operations so that the machine's load and SQLite's checkpoints affect both alike; the median of
the rounds is reported.

Plain rows run their statements with ``connection.execute`` (SQLAlchemy Core, as an app would). The store runs its
INSERT compiled once per dialect through ``exec_driver_sql``, which skips the per-call cache key and parameter
handling: about 78 k of the 740 k instructions a SQLite write took before (callgrind). An app could do the same for
its own rows, so that part of the narrowed gap is not about encryption; the README gives the figures with it.

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
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.exc import OperationalError

from pledge import schema
from pledge.clock import SystemClock
from pledge.db import UtcDateTime, open_engine
from pledge.store import Category, Collection, DataManifest, Field, Secret, TenantStore
from pledge.vault import LocalKeyring, Vault

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITES = 600
READS = 600
LISTS = 200
ROUNDS = 3
CHUNK = 50
TARGET_OVERHEAD = 0.25

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


def _values(i: int) -> dict[str, Any]:
    return {
        "name": f"Rule {i}: bugs of the week",
        "project": f"P{i % 10}",
        "recipient": f"team{i % 30}@example.com",
        "body": "Issue {key} changed: {summary}. See the issue for the full history of changes." * 2,
        "smtp_password": f"smtp-password-{i:06d}",
    }


def _time_ordered_id(now: datetime) -> str:
    """Ids shaped like the store's (milliseconds, then random): random uuid4 keys would land all over the primary
    key's B-tree, which costs the plain side page writes the store's time-ordered ids do not."""
    return f"{int(now.timestamp() * 1000):012x}{os.urandom(10).hex()}"


class PlainRows:
    """The same operations an app would write by hand on plain SQLAlchemy Core rows."""

    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self._engine = engine
        self._tenant_id = tenant_id

    def create(self, values: dict[str, Any]) -> str:
        now = datetime.now(UTC)
        record_id = _time_ordered_id(now)
        with self._engine.begin() as connection:
            connection.execute(
                _INSERT, {"tenant_id": self._tenant_id, "id": record_id, "created_at": now, "updated_at": now, **values}
            )
        return record_id

    def create_note(self, values: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            connection.execute(
                _INSERT_NOTE,
                {
                    "tenant_id": self._tenant_id,
                    "id": _time_ordered_id(now),
                    "created_at": now,
                    "updated_at": now,
                    **values,
                },
            )

    def get(self, record_id: str) -> dict[str, Any]:
        with self._engine.connect() as connection:
            row = connection.execute(_GET, {"in_tenant": self._tenant_id, "in_id": record_id}).one()
        return dict(row._mapping)

    def list(self, recipient: str) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(_LIST, {"in_tenant": self._tenant_id, "in_recipient": recipient}).all()
        return [dict(row._mapping) for row in rows]


@dataclass(frozen=True)
class Figures:
    operation: str
    plain_us: float
    store_us: float

    @property
    def overhead(self) -> float:
        return self.store_us / self.plain_us - 1


def _paired(plain: Callable[[int], object], store: Callable[[int], object], count: int) -> tuple[float, float]:
    """Microseconds per call of each, measured in alternating chunks so that load and checkpoints hit both alike."""
    spent = [0.0, 0.0]
    for start in range(0, count, CHUNK):
        for side, operation in enumerate((plain, store)):
            started = time.perf_counter()
            for i in range(start, min(start + CHUNK, count)):
                operation(i)
            spent[side] += time.perf_counter() - started
    return spent[0] / count * 1e6, spent[1] / count * 1e6


def _measure(engine: Engine, keyring_path: Path) -> list[Figures]:
    schema.upgrade(engine)
    plain_metadata.create_all(engine)
    vault = Vault(engine, LocalKeyring(keyring_path), SystemClock())
    rounds: dict[str, list[tuple[float, float]]] = {}
    for _ in range(ROUNDS):
        store = TenantStore(
            engine, vault, SystemClock(), app_key="bench", manifest=MANIFEST, tenant_id=uuid.uuid4().hex
        )
        for name, pair in _round(engine, store, PlainRows(engine, store.tenant_id)).items():
            rounds.setdefault(name, []).append(pair)
    return [
        Figures(
            name,
            statistics.median(p for p, _ in pairs),
            statistics.median(s for _, s in pairs),
        )
        for name, pairs in rounds.items()
    ]


def _round(engine: Engine, store: TenantStore, plain: PlainRows) -> dict[str, tuple[float, float]]:
    """One round of every operation, plain then store, in microseconds per operation."""
    store.create("rules", _values(0))  # creates the tenant's data key outside the timed loops
    values = [_values(i) for i in range(WRITES)]
    secret_values = [{**v, "smtp_password": Secret(v["smtp_password"])} for v in values]
    plain_ids: list[str] = []
    store_ids: list[str] = []
    write = _paired(
        lambda i: plain_ids.append(plain.create(values[i])),
        lambda i: store_ids.append(store.create("rules", secret_values[i]).id),
        WRITES,
    )
    notes = [{"name": v["name"], "body": v["body"]} for v in values]
    write_unindexed = _paired(lambda i: plain.create_note(notes[i]), lambda i: store.create("notes", notes[i]), WRITES)
    if engine.dialect.name == "postgresql":
        # Fresh tables have no planner statistics yet; autovacuum would gather them within a minute.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    read = _paired(
        lambda i: plain.get(plain_ids[i % WRITES]), lambda i: store.get("rules", store_ids[i % WRITES]), READS
    )
    listed = _paired(
        lambda i: plain.list(f"team{i % 30}@example.com"),
        lambda i: store.list("rules", where={"recipient": f"team{i % 30}@example.com"}, limit=100),
        LISTS,
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


@contextmanager
def _postgres() -> Iterator[Engine | None]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"pledge_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    engine = open_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _print(engine_name: str, figures: list[Figures]) -> None:
    print(f"\n{engine_name}: {WRITES} writes, {READS} reads, {LISTS} filtered lists per round, median of {ROUNDS}")
    print(f"{'operation':<22}{'plain µs/op':>13}{'store µs/op':>13}{'overhead':>10}  target ≤ {TARGET_OVERHEAD:.0%}")
    for f in figures:
        verdict = "ok" if f.overhead <= TARGET_OVERHEAD else "OVER"
        print(f"{f.operation:<22}{f.plain_us:>13.0f}{f.store_us:>13.0f}{f.overhead:>+10.0%}  {verdict}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pledge-bench-store-") as scratch:
        keyring = Path(scratch) / "keyring.json"
        with _engines(Path(scratch)) as (name, engine):
            _print(name, _measure(engine, keyring))
        with _postgres() as postgres:
            if postgres is None:
                print(f"\nPostgreSQL: not reachable at {POSTGRES_URL}, skipped")
            else:
                _print("PostgreSQL", _measure(postgres, keyring))


if __name__ == "__main__":
    main()
