"""An app with a data manifest like the reference app's, and helpers to publish statements of a deployment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from pledge.app import App, Auth, RequestContext
from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.statement.claims import CLAIMS, StatementClaim
from pledge.statement.facts import Deployment, Facts
from pledge.statement.publish import Published, publish
from pledge.statement.verify import ClaimResult, Outcome, Verification
from pledge.store.data_manifest import Category, Collection, DataManifest, Field


def mailer_app() -> App:
    app = App(
        key="issue-mailer",
        name="Issue Mailer",
        description="E-mails Jira issues to the people a rule names.",
        vendor_name="Example Apps Ltd",
        vendor_url="https://apps.example.com",
        data=DataManifest(
            (
                Collection(
                    "rules",
                    "Which issues to e-mail, and to whom",
                    (
                        Field("jql", Category.CONFIGURATION, "Selects the issues a rule sends"),
                        Field("recipient", Category.PERSONAL, "Where the rule sends mail | one address"),
                    ),
                ),
                Collection(
                    "sent_mail",
                    "What was sent, for the delivery report",
                    (Field("subject", Category.CONTENT, "Shown in the delivery report"),),
                    retention_days=90,
                ),
                Collection(
                    "smtp",
                    "The site's own mail server",
                    (Field("password", Category.SECRET, "Logs in to the site's SMTP server"),),
                ),
            )
        ),
    )

    @app.route("/descriptor", auth=Auth.PUBLIC)
    async def descriptor(_context: RequestContext) -> dict[str, str]:
        return {"key": app.key}

    @app.route("/api/rules", auth=Auth.CONNECT_CONTEXT)
    async def rules(_context: RequestContext) -> list[Any]:
        return []

    return app


def deployment_with(
    settings: Settings, engine: Engine, clock: FrozenClock, apps: Sequence[object] = (), **changes: Any
) -> Deployment:
    """The same database and data dir as ``settings``, with some settings changed (no runtime)."""
    changed = load_settings(data_dir=settings.data_dir, database_url=settings.database_url, **changes)
    return Deployment(changed, engine, clock, tuple(apps))


def published(deployment: Deployment) -> Published:
    """Verify and publish the deployment's statement, as `pledge serve` and every `pledge statement` command do."""
    return asyncio.run(publish(deployment))


def verified(facts: Facts, *, failed: Iterable[str] = ()) -> Verification:
    """A verification of ``facts`` in which every provided claim held except those ``failed``."""
    failing = set(failed)

    def outcome(claim: StatementClaim) -> Outcome:
        if not claim.offered(facts):
            return Outcome.NOT_OFFERED
        if not claim.provided:
            return Outcome.MISSING
        return Outcome.FAILED if claim.id in failing else Outcome.PASSED

    results = tuple(ClaimResult(claim.id, claim.promise, claim.sentence(facts), outcome(claim), "") for claim in CLAIMS)
    return Verification(datetime(2026, 11, 27, 9, 0, tzinfo=UTC), None, results)
