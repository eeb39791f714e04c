"""Egress refusals counted in the database, so the statement reads the sum over every instance (S13).

One row per reason (``destination``: not an allowed origin; ``path``: a path that could resolve elsewhere), its
count raised by one atomic ``UPDATE … SET count = count + 1`` per refusal. Refusals are rare (a bug or an attack), so
each is written as it happens: a process killed afterwards loses none.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pledge.db import metadata

egress_refusal_counts_table = Table(
    "egress_refusal_counts",
    metadata,
    Column("reason", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)


class RefusalCounts:
    """The deployment's egress refusal counts, shared by its instances."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, reason: str) -> None:
        table = egress_refusal_counts_table
        raise_count = update(table).where(table.c.reason == reason).values(count=table.c.count + 1)
        with self._engine.begin() as connection:
            if connection.execute(raise_count).rowcount == 1:
                return
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(table).values(reason=reason, count=1))
        except IntegrityError:  # another instance counted the first one of this reason meanwhile
            with self._engine.begin() as connection:
                connection.execute(raise_count)

    def total(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.coalesce(func.sum(egress_refusal_counts_table.c.count), 0))).scalar_one()
            )
