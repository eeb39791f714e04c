"""The statement pages as a customer reads them: the statement, per-app sections, JSON, versions, Versions Compared."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient
from tests.statement.example import mailer_app, published

from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.statement.facts import Deployment
from pledge.statement.pages import serve_statement
from pledge.statement.verify import Verification
from pledge.statement.versions import StatementVersions

CHANGE = re.compile(
    r'<(?:ins|del|span) class="(added|removed|format-changed)"(?: id="change-\d+")?>(.*?)</(?:ins|del|span)>', re.DOTALL
)


def _client(runtime: Runtime, apps: Sequence[object] = ()) -> TestClient:
    return TestClient(create_host(runtime, extra_routes=asyncio.run(serve_statement(runtime, apps))))


def _compared(html: str) -> list[tuple[str, str]]:
    return CHANGE.findall(html.split('<article class="comparison">', 1)[1])


@pytest.fixture
def west(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[Runtime]:
    """The deployment moved to us-west-2, after version 1 was published from us-east-1."""
    east = Runtime.open(settings, clock=clock, engine=engine)
    published(Deployment.of(east, [mailer_app()]))
    east.close()
    moved = load_settings(data_dir=settings.data_dir, database_url=settings.database_url, region="us-west-2")
    runtime = Runtime.open(moved, clock=clock, engine=engine)
    yield runtime
    runtime.close()


def test_the_statement_page_shows_the_version_and_its_last_verification(runtime: Runtime) -> None:
    page = _client(runtime, [mailer_app()]).get("/privacy")
    assert page.status_code == 200
    assert "<h1>Data Security &amp; Privacy Statement</h1>" in page.text
    assert "Version <strong>1</strong>, published 2026-11-27 09:00 UTC" in page.text
    assert "Last verified 2026-11-27 09:00 UTC:\n    <strong>failed</strong>" in page.text
    assert "<h2>App: Issue Mailer</h2>" in page.text
    assert "<strong>Not yet provided.</strong> A published register of sub-processors" in page.text
    assert (
        '<li class="failed"><span class="outcome">failed</span>\n      <span class="claim">https-only</span>'
        in page.text
    )


def test_the_app_page_and_an_unknown_app(runtime: Runtime) -> None:
    client = _client(runtime, [mailer_app()])
    page = client.get("/privacy/apps/issue-mailer")
    assert page.status_code == 200
    assert "<code>rules.recipient</code>" in page.text and "Data storage and location" not in page.text
    missing = client.get("/privacy/apps/nothing-here")
    assert missing.status_code == 404
    assert "This deployment serves no app with that key." in missing.text


def test_the_json_carries_the_text_facts_claims_and_verification(runtime: Runtime) -> None:
    body = _client(runtime, [mailer_app()]).get("/privacy.json").json()
    assert body["version"]["id"] == 1
    assert body["markdown"] == StatementVersions(runtime.engine, runtime.clock).get(1).markdown
    assert body["facts"]["region"] == "us-east-1"
    assert body["facts"]["apps"][0]["key"] == "issue-mailer"
    claims = {claim["id"]: claim for claim in body["claims"]}
    assert claims["hosting-region"]["provided"] and not claims["sub-processors"]["provided"]
    assert body["verification"]["passed"] is False
    assert body["verification"]["version_id"] == 1
    assert {r["claim"]: r["outcome"] for r in body["verification"]["results"]}["logs-redacted"] == "passed"
    assert claims["https-only"]["mark"] == "Failed verification" and claims["logs-redacted"]["mark"] is None


def test_moving_region_shows_exactly_that_change_on_the_compare_page(west: Runtime) -> None:
    client = _client(west, [mailer_app()])
    assert "Version <strong>2</strong>" in client.get("/privacy").text

    page = client.get("/privacy/compare?from=1&to=2")
    assert page.status_code == 200
    assert _compared(page.text) == [
        ("removed", "East"),
        ("added", "West"),
        ("removed", "N. Virginia"),
        ("added", "Oregon"),
        ("removed", "us-east-1"),
        ("added", "us-west-2"),
    ]
    assert '<ins class="added">This line was added.</ins>' in page.text
    assert '<del class="removed">This line was removed.</del>' in page.text
    assert '<span class="format-changed">Formatting was changed.</span>' in page.text
    assert '<a class="permalink" href="/privacy/compare?from=1&amp;to=2">' in page.text
    # The statement itself, its unchanged sections collapsed, and a list that jumps to each change.
    assert '<summary><h2>Overview</h2> <span class="unchanged-note">Unchanged</span></summary>' in page.text
    assert '<section class="changed" id="section-2"><h2>Data storage and location</h2>' in page.text
    for number in (1, 2, 3):
        assert f'<a class="jump" href="#change-{number}">' in page.text
        assert page.text.count(f'id="change-{number}"') == 1
    assert "<del>East</del> → <ins>West</ins>" in page.text

    versions = client.get("/privacy/versions").text
    assert 'Version 2</span> <span class="current">current</span>' in versions
    assert '<a href="/privacy/compare?from=1&amp;to=2">Compare with version 1</a>' in versions


def test_compare_steps_between_neighbouring_versions(runtime: Runtime) -> None:
    stored = StatementVersions(runtime.engine, runtime.clock)
    for text in ("one\n", "two\n", "**two**\n"):
        stored.publish(text, Verification(runtime.clock.now(), None, ()))
    client = _client(runtime)  # publishes the real statement as version 4

    middle = client.get("/privacy/compare?from=2&to=3").text
    assert '<a rel="prev" href="/privacy/compare?from=1&amp;to=2">' in middle
    assert '<a rel="next" href="/privacy/compare?from=3&amp;to=4">' in middle
    assert '<p><strong><span class="format-changed" id="change-1">two</span></strong></p>' in middle
    first = client.get("/privacy/compare?from=1&to=2").text
    assert '<span class="disabled">← Previous change</span>' in first
    assert _compared(first) == [("removed", "one"), ("added", "two")]

    latest = client.get("/privacy/compare", follow_redirects=False)
    assert (latest.status_code, latest.headers["location"]) == (303, "/privacy/compare?from=3&to=4")


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("from=abc&to=1", 400, "Version ids are whole numbers from 1"),
        ("from=0&to=1", 400, "Version ids are whole numbers from 1"),
        ("from=-1&to=1", 400, "Version ids are whole numbers from 1"),
        ("from=1.5&to=1", 400, "Version ids are whole numbers from 1"),
        ("from=%D9%A1&to=1", 400, "Version ids are whole numbers from 1"),
        ("from=1", 400, "Name both versions to compare"),
        ("from=1&to=99", 404, "There is no statement version 99"),
        ("from=99999999999999999999999&to=1", 404, "There is no statement version 99999999999999999999999"),
    ],
)
def test_bad_version_ids_get_a_clear_answer_never_a_server_error(
    runtime: Runtime, query: str, status: int, message: str
) -> None:
    response = _client(runtime).get(f"/privacy/compare?{query}")
    assert response.status_code == status
    assert message in response.text


def test_the_stylesheet_is_served_locally(runtime: Runtime) -> None:
    client = _client(runtime)
    assert 'href="/privacy/static/privacy.css"' in client.get("/privacy").text
    css = client.get("/privacy/static/privacy.css")
    assert css.status_code == 200 and "ins.added" in css.text
