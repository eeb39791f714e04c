"""Publishing: verify the deployment against what its statement states, render the statement with each claim marked
by its outcome, keep it as a version carrying that verification, and record the run (S14).

A version is never published without its verification: the text marks every claim whose check failed, so a reader
of any stored version sees what held when it was published.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pledge.statement.facts import Deployment, Facts, gather
from pledge.statement.render import render
from pledge.statement.verify import Verification, VerificationLog, verify
from pledge.statement.versions import StatementVersions, Version


@dataclass(frozen=True, slots=True)
class Published:
    """The statement this deployment makes: its facts, the verification its text is marked by, the stored version."""

    facts: Facts
    markdown: str
    version: Version
    verification: Verification


async def publish(deployment: Deployment) -> Published:
    """Verify the deployment, render its statement marked by the outcomes, store it as a new version if the text
    changed since the latest (with this verification), and record the run against that version."""
    facts = gather(deployment.settings, deployment.apps)
    verification = await verify(deployment, facts, version_id=None)
    markdown = render(facts, verification.outcomes())
    version = StatementVersions(deployment.engine, deployment.clock).publish(markdown, verification)
    verification = dataclasses.replace(verification, version_id=version.id)
    VerificationLog(deployment.engine).record(verification)
    return Published(facts, markdown, version, verification)
