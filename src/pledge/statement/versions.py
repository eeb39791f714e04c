"""Every text the statement has had, kept immutable: a version is added when the rendered text changes (S14).

Versions are numbered 1, 2, 3… so that a comparison's URL is stable and readable. Nothing here updates or
deletes a version: customers may hold a link to any of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Engine, Integer, String, Table, Text, func, insert, select
from sqlalchemy.exc import IntegrityError

from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError

statement_versions_table = Table(
    "statement_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("markdown", Text, nullable=False),
)


# Ids are 32-bit on both engines; a larger number names no version (and must not reach the database).
_LARGEST_ID = 2**31 - 1


class VersionNotFound(PledgeError):
    """No statement version with that id."""


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    created_at: datetime
    sha256: str
    markdown: str


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A version without its text, for listings."""

    id: int
    created_at: datetime
    sha256: str
    characters: int


def digest(markdown: str) -> str:
    return hashlib.sha256(markdown.encode()).hexdigest()


class StatementVersions:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def publish(self, markdown: str) -> Version:
        """The latest version if its text is ``markdown``, else a new version holding it.

        Instances starting together race for the next id; the loser finds the winner's version and uses it
        when the text is the same.
        """
        sha256 = digest(markdown)
        while True:
            latest = self.latest()
            if latest is not None and latest.sha256 == sha256:
                return latest
            version = Version((latest.id if latest else 0) + 1, self._clock.now(), sha256, markdown)
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        insert(statement_versions_table).values(
                            id=version.id,
                            created_at=version.created_at,
                            sha256=version.sha256,
                            markdown=version.markdown,
                        )
                    )
            except IntegrityError:
                continue
            return version

    def latest(self) -> Version | None:
        with self._engine.connect() as connection:
            newest = select(func.max(statement_versions_table.c.id)).scalar_subquery()
            row = connection.execute(
                select(statement_versions_table).where(statement_versions_table.c.id == newest)
            ).one_or_none()
        return Version(*row) if row is not None else None

    def get(self, version_id: int) -> Version:
        row = None
        if 1 <= version_id <= _LARGEST_ID:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(statement_versions_table).where(statement_versions_table.c.id == version_id)
                ).one_or_none()
        if row is None:
            raise VersionNotFound(f"there is no statement version {version_id}: `pledge statement versions` lists them")
        return Version(*row)

    def list(self) -> list[VersionSummary]:
        """Every version, oldest first."""
        table = statement_versions_table
        query = select(table.c.id, table.c.created_at, table.c.sha256, func.length(table.c.markdown)).order_by(
            table.c.id
        )
        with self._engine.connect() as connection:
            return [VersionSummary(*row) for row in connection.execute(query)]

    def neighbours(self, version_id: int) -> tuple[int | None, int | None]:
        """The ids of the versions just before and just after ``version_id``."""
        table = statement_versions_table
        with self._engine.connect() as connection:
            before = connection.execute(select(func.max(table.c.id)).where(table.c.id < version_id)).scalar()
            after = connection.execute(select(func.min(table.c.id)).where(table.c.id > version_id)).scalar()
        return before, after
