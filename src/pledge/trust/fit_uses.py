"""Forge invocation tokens used once across every instance: the digests of seen ``jti``s, in the database (S11).

Each process remembers the ``jti``s it accepted (:class:`pledge.trust.forge_fit.FitVerifier`), which catches a
replay to the same process without a round trip. This memory is what makes the rule hold across instances: a
``jti`` is recorded, as the SHA-256 digest of the app id and the ``jti`` (never the token), until its token expires;
an insert that meets the same digest is a replay. Expired digests are deleted by the ``forge-token-uses-sweep`` job:
a token is refused for its expiry anyway, so they only take space.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Engine, Index, String, Table, delete, insert
from sqlalchemy.exc import IntegrityError

from pledge.db import UtcDateTime, metadata
from pledge.jobs import Job, JobContext

forge_token_uses_table = Table(
    "forge_token_uses",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of app id and jti, hex
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_forge_token_uses_expires_at", "expires_at"),
)


class SharedTokenUses:
    """Insert-or-refuse of ``jti`` digests, shared by every instance on the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def use_once(self, app_id: str, jti: str, until: float) -> bool:
        """Record ``jti`` of ``app_id``'s tokens as used until ``until`` (epoch seconds); False if it already was."""
        digest = hashlib.sha256(f"{app_id}\n{jti}".encode()).hexdigest()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(forge_token_uses_table).values(digest=digest, expires_at=datetime.fromtimestamp(until, UTC))
                )
        except IntegrityError:
            return False
        return True


def sweep_forge_token_uses(context: JobContext) -> None:
    """Delete the digests of tokens that have expired."""
    table = forge_token_uses_table
    with context.transaction() as connection:
        connection.execute(delete(table).where(table.c.expires_at < context.now()))


FORGE_TOKEN_USES_SWEEP = Job(
    name="forge-token-uses-sweep",
    period=timedelta(minutes=10),
    deadline=timedelta(minutes=5),
    run=sweep_forge_token_uses,
)
