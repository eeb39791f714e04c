"""Every text the statement has had, kept immutable: a version is added when the rendered text changes (S14), and
it keeps the verification it was published with (the text marks each claim that verification failed).

Versions are numbered 1, 2, 3… so that a comparison's URL is stable and readable. Nothing here updates or
deletes a version: customers may hold a link to any of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Engine, Integer, Row, String, Table, Text, func, insert, select
from sqlalchemy.exc import IntegrityError

from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError
from pledge.statement.verify import Verification

statement_versions_table = Table(
    "statement_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("markdown", Text, nullable=False),
    Column("verified_at", UtcDateTime, nullable=True),
    Column("verification_passed", Boolean, nullable=True),
    Column("verification", Text, nullable=True),
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
    verification: Verification | None
    """The verification the version was published with, whose outcomes its text marks (None for versions
    published before versions carried it)."""


@dataclass(frozen=True, slots=True)
class VersionSummary:
    """A version without its text, for listings."""

    id: int
    created_at: datetime
    sha256: str
    characters: int
    verification_passed: bool | None
    verification_summary: str | None


def _version(row: Row[Any]) -> Version:
    verification = (
        Verification.from_json(row.verified_at, row.id, row.verification) if row.verification is not None else None
    )
    return Version(row.id, row.created_at, row.sha256, row.markdown, verification)


def digest(markdown: str) -> str:
    return hashlib.sha256(markdown.encode()).hexdigest()


class StatementVersions:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def publish(self, markdown: str, verification: Verification) -> Version:
        """The latest version if its text is ``markdown``, else a new version holding it.

        Instances starting together race for the next id; the loser finds the winner's version and uses it
        when the text is the same.
        """
        sha256 = digest(markdown)
        while True:
            latest = self.latest()
            if latest is not None and latest.sha256 == sha256:
                return latest
            next_id = (latest.id if latest else 0) + 1
            verified = dataclasses.replace(verification, version_id=next_id)
            version = Version(next_id, self._clock.now(), sha256, markdown, verified)
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        insert(statement_versions_table).values(
                            id=version.id,
                            created_at=version.created_at,
                            sha256=version.sha256,
                            markdown=version.markdown,
                            verified_at=verified.verified_at,
                            verification_passed=verified.passed,
                            verification=verified.results_json(),
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
        return _version(row) if row is not None else None

    def get(self, version_id: int) -> Version:
        row = None
        if 1 <= version_id <= _LARGEST_ID:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(statement_versions_table).where(statement_versions_table.c.id == version_id)
                ).one_or_none()
        if row is None:
            raise VersionNotFound(f"there is no statement version {version_id}: `pledge statement versions` lists them")
        return _version(row)

    def list(self) -> list[VersionSummary]:
        """Every version, oldest first."""
        table = statement_versions_table
        characters = func.length(table.c.markdown).label("characters")
        query = select(
            table.c.id, table.c.created_at, table.c.sha256, characters, table.c.verified_at, table.c.verification
        ).order_by(table.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        summaries = []
        for row in rows:
            verification = (
                Verification.from_json(row.verified_at, row.id, row.verification) if row.verification else None
            )
            summaries.append(
                VersionSummary(
                    row.id,
                    row.created_at,
                    row.sha256,
                    row.characters,
                    verification.passed if verification else None,
                    verification.summary() if verification else None,
                )
            )
        return summaries

    def neighbours(self, version_id: int) -> tuple[int | None, int | None]:
        """The ids of the versions just before and just after ``version_id``."""
        table = statement_versions_table
        with self._engine.connect() as connection:
            before = connection.execute(select(func.max(table.c.id)).where(table.c.id < version_id)).scalar()
            after = connection.execute(select(func.min(table.c.id)).where(table.c.id > version_id)).scalar()
        return before, after
