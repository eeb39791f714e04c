"""The statement's public pages: ``/privacy`` (and per app), ``/privacy.json``, versions, and Versions Compared (S14).

Bad or unknown version ids get a 400 or 404 page saying what to ask for instead, never a server error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pledge.errors import PledgeError
from pledge.legal import LegalRequests
from pledge.runtime import Runtime
from pledge.statement.claims import CLAIMS
from pledge.statement.compare import KEY, compare
from pledge.statement.compare_page import render_document
from pledge.statement.facts import Deployment, gather
from pledge.statement.marketplace import answers
from pledge.statement.publish import Published, publish
from pledge.statement.render import TEMPLATES, mark, render_app, to_html
from pledge.statement.verify import Verification, VerificationLog
from pledge.statement.versions import StatementVersions, Version, VersionNotFound

log = logging.getLogger("pledge.statement")

_templates = Jinja2Templates(env=TEMPLATES)


class _PageError(PledgeError):
    """A request the pages cannot answer; ``status`` is 400 or 404 and the message says what to ask instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def compare_url(old: int, new: int) -> str:
    return "/privacy/compare?" + urlencode({"from": old, "to": new})


PUBLICATION_WAIT_SECONDS = 60.0
"""How long a request for a page waits for the start-up publication (verification probes the served address, so
it runs once the server listens) before it is answered 503."""


class StatementPages:
    """The pages of one deployment's statement, reading versions and verification runs from the database.

    The pages are served from the start; :meth:`publish` verifies and publishes the statement, and until it has, a
    request for a page waits for it (at most :data:`PUBLICATION_WAIT_SECONDS`).
    """

    def __init__(self, deployment: Deployment, *, published_elsewhere: bool = False) -> None:
        """``published_elsewhere``: another process publishes (the supervisor of ``pledge serve --workers``); these
        pages serve the newest version it has stored, with the verification stored beside it."""
        self._deployment = deployment
        self._published_elsewhere = published_elsewhere
        self._publication: Published | None = None
        self._published_event = asyncio.Event()
        self._versions = StatementVersions(deployment.engine, deployment.clock)
        self._log = VerificationLog(deployment.engine)
        self._legal_requests = LegalRequests(deployment.engine, deployment.clock)

    async def publish(self) -> Published:
        """Verify the deployment and publish its statement (a new version if the marked text changed)."""
        published = await publish(self._deployment)
        self._publication = published
        self._published_event.set()
        log.info(
            "statement version %d at /privacy; verification %s",
            published.version.id,
            published.verification.summary(),
        )
        return published

    async def publish_when_served(self) -> Published:
        """Publish once the deployment's own address answers ``/healthz`` (its checks probe it)."""
        health = f"{self._deployment.settings.public_url.rstrip('/')}/healthz"
        async with httpx.AsyncClient(timeout=2.0, verify=False) as client:  # noqa: S501 - a liveness probe only
            for _ in range(int(PUBLICATION_WAIT_SECONDS / 0.2)):
                try:
                    if (await client.get(health)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        return await self.publish()

    async def _published(self) -> Published:
        if self._published_elsewhere:
            return await self._stored()
        try:
            await asyncio.wait_for(self._published_event.wait(), PUBLICATION_WAIT_SECONDS)
        except TimeoutError:
            raise _PageError(503, "The statement is being verified: try again in a minute.") from None
        assert self._publication is not None  # set before the event
        return self._publication

    async def _stored(self) -> Published:
        for _ in range(int(PUBLICATION_WAIT_SECONDS / 0.5)):
            version = await run_in_threadpool(self._versions.latest)
            if version is not None and version.verification is not None:
                facts = gather(self._deployment.settings, self._deployment.apps)
                return Published(facts, version.markdown, version, version.verification)
            await asyncio.sleep(0.5)
        raise _PageError(503, "The statement is being verified: try again in a minute.")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/privacy", self.statement, methods=["GET"]),
            Route("/privacy.json", self.statement_json, methods=["GET"]),
            Route("/privacy/marketplace.json", self.marketplace_json, methods=["GET"]),
            Route("/privacy/versions", self.versions, methods=["GET"]),
            Route("/privacy/compare", self.compare, methods=["GET"]),
            Route("/privacy/apps/{key}", self.app, methods=["GET"]),
            Mount("/privacy/static", StaticFiles(packages=[("pledge", "web/static")]), name="privacy-static"),
        ]

    async def statement(self, request: Request) -> Response:
        try:
            published = await self._published()
        except _PageError as exc:
            return self._error(request, exc.status, str(exc))
        version, verification, (before, _) = await run_in_threadpool(self._status, published)
        counts = await run_in_threadpool(self._legal_requests.yearly_counts)
        return _templates.TemplateResponse(
            request,
            "privacy.html",
            {
                "version": version,
                "body": to_html(version.markdown),
                "verification": verification,
                "previous_compare": compare_url(before, version.id) if before else None,
                "apps": published.facts.apps,
                "transparency": counts,
            },
        )

    async def app(self, request: Request) -> Response:
        try:
            published = await self._published()
        except _PageError as exc:
            return self._error(request, exc.status, str(exc))
        app = published.facts.app(request.path_params["key"])
        if app is None:
            return self._error(request, 404, "This deployment serves no app with that key.")
        return _templates.TemplateResponse(
            request,
            "privacy_app.html",
            {"app": app, "body": to_html(render_app(app, published.facts)), "version": published.version},
        )

    async def statement_json(self, request: Request) -> Response:
        try:
            published = await self._published()
        except _PageError as exc:
            return self._error(request, exc.status, str(exc))
        version, verification, _ = await run_in_threadpool(self._status, published)
        outcomes = version.verification.outcomes() if version.verification else {}
        counts = await run_in_threadpool(self._legal_requests.yearly_counts)
        return JSONResponse(
            {
                "version": _version_json(version),
                "markdown": version.markdown,
                "facts": published.facts.as_dict(),
                "claims": [
                    {
                        "id": claim.id,
                        "promise": claim.promise,
                        "section": claim.section.title,
                        "text": claim.sentence(published.facts),
                        "provided": claim.provided,
                        "mark": mark(claim, published.facts, outcomes),
                    }
                    for claim in CLAIMS
                ],
                "verification": _verification_json(verification) if verification else None,
                "transparency_report": [dataclasses.asdict(count) for count in counts],
            }
        )

    async def marketplace_json(self, request: Request) -> Response:
        """The Marketplace "Privacy & Security" answers, from the verification the served version carries."""
        try:
            published = await self._published()
        except _PageError as exc:
            return self._error(request, exc.status, str(exc))
        version, _, _ = await run_in_threadpool(self._status, published)
        return JSONResponse(answers(published.facts, version.verification or published.verification))

    async def versions(self, request: Request) -> Response:
        versions = await run_in_threadpool(self._versions.list)
        current = versions[-1].id if versions else None
        return _templates.TemplateResponse(
            request,
            "privacy_versions.html",
            {"versions": list(reversed(versions)), "current": current, "compare_url": compare_url},
        )

    async def compare(self, request: Request) -> Response:
        try:
            context = await run_in_threadpool(
                self._comparison, request.query_params.get("from"), request.query_params.get("to")
            )
        except _PageError as exc:
            return self._error(request, exc.status, str(exc))
        if isinstance(context, str):
            return RedirectResponse(context, status_code=303)
        return _templates.TemplateResponse(request, "privacy_compare.html", context)

    def _status(self, published: Published) -> tuple[Version, Verification | None, tuple[int | None, int | None]]:
        """The newest version (a later verification may have published one, marking what it found), the latest
        verification run, and the versions around the newest."""
        version = self._versions.latest() or published.version
        return version, self._log.latest(), self._versions.neighbours(version.id)

    def _comparison(self, old_param: str | None, new_param: str | None) -> dict[str, Any] | str:
        """The compare page's context, or the URL to redirect to when no versions were named."""
        if old_param is None and new_param is None:
            latest = self._versions.latest()
            if latest is None:
                raise _PageError(404, "No statement has been published yet.")
            before, _ = self._versions.neighbours(latest.id)
            return compare_url(before or latest.id, latest.id)
        if old_param is None or new_param is None:
            raise _PageError(400, "Name both versions to compare, for example ?from=1&to=2.")
        old, new = self._version(old_param), self._version(new_param)
        comparison = compare(old.markdown, new.markdown)
        before, _ = self._versions.neighbours(old.id)
        _, after = self._versions.neighbours(new.id)
        return {
            "old": old,
            "new": new,
            "comparison": comparison,
            "document": render_document(comparison),
            "key": KEY,
            "permalink": compare_url(old.id, new.id),
            "previous": compare_url(before, old.id) if before is not None and old.id < new.id else None,
            "next": compare_url(new.id, after) if after is not None and old.id < new.id else None,
        }

    def _version(self, param: str) -> Version:
        if not param.isascii() or not param.isdigit() or int(param) < 1:
            raise _PageError(400, "Version ids are whole numbers from 1, as listed on the versions page.")
        try:
            return self._versions.get(int(param))
        except VersionNotFound:
            raise _PageError(404, f"There is no statement version {int(param)}: see the versions page.") from None

    def _error(self, request: Request, status: int, message: str) -> Response:
        return _templates.TemplateResponse(request, "privacy_error.html", {"message": message}, status_code=status)


def _version_json(version: Version) -> dict[str, Any]:
    return {"id": version.id, "created_at": version.created_at.isoformat(), "sha256": version.sha256}


def _verification_json(verification: Verification) -> dict[str, Any]:
    return {
        "verified_at": verification.verified_at.isoformat(),
        "version_id": verification.version_id,
        "passed": verification.passed,
        "summary": verification.summary(),
        "results": [
            {
                "claim": result.claim_id,
                "promise": result.promise,
                "outcome": result.outcome.value,
                "evidence": result.evidence,
            }
            for result in verification.results
        ],
    }


async def serve_statement(runtime: Runtime, apps: Sequence[object]) -> list[BaseRoute]:
    """Publish this deployment's statement now, and return the routes of its pages for the host. (``pledge serve``
    publishes once it listens instead, so that the checks probing the served address reach it.)"""
    pages = StatementPages(Deployment.of(runtime, apps))
    await pages.publish()
    return pages.routes()
