"""Publishing: render the statement of a deployment, keep it as a version, verify it and record the run (S14)."""

from __future__ import annotations

from dataclasses import dataclass

from pledge.statement.facts import Deployment, Facts, gather
from pledge.statement.render import render
from pledge.statement.verify import Verification, VerificationLog, verify
from pledge.statement.versions import StatementVersions, Version


@dataclass(frozen=True, slots=True)
class Published:
    """The statement this deployment makes: its facts, its text, and the stored version holding that text."""

    facts: Facts
    markdown: str
    version: Version


def publish(deployment: Deployment) -> Published:
    """Render the deployment's statement; store it as a new version if its text changed since the latest."""
    facts = gather(deployment.settings, deployment.apps)
    markdown = render(facts)
    version = StatementVersions(deployment.engine, deployment.clock).publish(markdown)
    return Published(facts, markdown, version)


async def verify_published(deployment: Deployment, published: Published) -> Verification:
    """Verify the published statement against the deployment and record the run."""
    verification = await verify(deployment, published.facts, version_id=published.version.id)
    VerificationLog(deployment.engine).record(verification)
    return verification
