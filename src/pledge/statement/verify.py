"""Verification: every claim of the statement checked against live evidence, and each run recorded (S1..S14).

A claim holds only when its check passes. A check that fails, raises, or does not exist yet fails the run: a
statement that has drifted from reality, or that promises what nothing enforces, never verifies.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Column, Engine, ForeignKey, Integer, Table, Text, insert, select

from pledge.db import UtcDateTime, metadata
from pledge.logs import redact
from pledge.promises import Evidence
from pledge.statement.claims import CLAIMS, StatementClaim
from pledge.statement.facts import Deployment, Facts

statement_verifications_table = Table(
    "statement_verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verified_at", UtcDateTime, nullable=False),
    Column("version_id", Integer, ForeignKey("statement_versions.id"), nullable=True),
    Column("passed", Boolean, nullable=False),
    Column("results", Text, nullable=False),
)


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    MISSING = "missing"
    """The claim has no check yet: reported as a failure."""
    NOT_OFFERED = "not offered"
    """The deployment does not offer what the claim promises, and the statement says so: nothing to check."""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim_id: str
    promise: str
    text: str
    outcome: Outcome
    evidence: str


@dataclass(frozen=True, slots=True)
class Verification:
    verified_at: datetime
    version_id: int | None
    results: tuple[ClaimResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.outcome in (Outcome.PASSED, Outcome.NOT_OFFERED) for result in self.results)

    def outcomes(self) -> dict[str, Outcome]:
        """Each claim's outcome by id: what the statement marks."""
        return {result.claim_id: result.outcome for result in self.results}

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    def summary(self) -> str:
        """e.g. ``failed: 8 of 22 claims hold, 1 failed, 13 not yet provided``."""
        verdict = "passed" if self.passed else "failed"
        offered = len(self.results) - self.count(Outcome.NOT_OFFERED)
        not_offered = f", {self.count(Outcome.NOT_OFFERED)} not offered" if self.count(Outcome.NOT_OFFERED) else ""
        return (
            f"{verdict}: {self.count(Outcome.PASSED)} of {offered} claims hold, "
            f"{self.count(Outcome.FAILED)} failed, {self.count(Outcome.MISSING)} not yet provided{not_offered}"
        )

    def results_json(self) -> str:
        return json.dumps(
            [
                {
                    "claim": result.claim_id,
                    "promise": result.promise,
                    "text": result.text,
                    "outcome": result.outcome.value,
                    "evidence": result.evidence,
                }
                for result in self.results
            ]
        )

    @classmethod
    def from_json(cls, verified_at: datetime, version_id: int | None, results: str) -> Verification:
        return cls(
            verified_at,
            version_id,
            tuple(
                ClaimResult(item["claim"], item["promise"], item["text"], Outcome(item["outcome"]), item["evidence"])
                for item in json.loads(results)
            ),
        )


async def check_claim(claim: StatementClaim, deployment: Deployment, facts: Facts) -> ClaimResult:
    text = claim.sentence(facts)
    if not claim.offered(facts):
        return ClaimResult(claim.id, claim.promise, text, Outcome.NOT_OFFERED, "not offered by this deployment")
    if claim.check is None:
        return ClaimResult(claim.id, claim.promise, text, Outcome.MISSING, "no check: not yet provided")
    try:
        found = claim.check(deployment, facts)
        evidence = await found if inspect.isawaitable(found) else found
    except Exception as exc:  # a check that cannot read its evidence proves nothing: the claim fails
        evidence = Evidence(False, redact(f"the check could not run: {exc}"))
    outcome = Outcome.PASSED if evidence.passed else Outcome.FAILED
    return ClaimResult(claim.id, claim.promise, text, outcome, evidence.detail)


async def verify(
    deployment: Deployment, facts: Facts, *, version_id: int | None, claims: tuple[StatementClaim, ...] = CLAIMS
) -> Verification:
    """Check every claim of the statement ``facts`` render (version ``version_id``) against ``deployment``.

    A coroutine because some checks await the verifiers they probe: the CLI and the server's start-up run it with
    ``asyncio.run``, and code already inside an event loop awaits it. The checks run one after the other.
    """
    run = dataclasses.replace(deployment)  # a fresh sample of stored records per run, shared by its checks
    results = tuple([await check_claim(claim, run, facts) for claim in claims])
    return Verification(deployment.clock.now(), version_id, results)


class VerificationLog:
    """The record of verification runs, so the statement page can say when it was last verified and how."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, verification: Verification) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                insert(statement_verifications_table).values(
                    verified_at=verification.verified_at,
                    version_id=verification.version_id,
                    passed=verification.passed,
                    results=verification.results_json(),
                )
            )

    def latest(self) -> Verification | None:
        table = statement_verifications_table
        query = select(table.c.verified_at, table.c.version_id, table.c.results).order_by(table.c.id.desc()).limit(1)
        with self._engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        return Verification.from_json(row.verified_at, row.version_id, row.results)
