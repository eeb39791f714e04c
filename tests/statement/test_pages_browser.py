"""The statement pages in headless Chromium: they render, the Key and the changes are visible, the compare page reads
as the statement with unchanged sections collapsed and a jump to each change, and a 375 px screen needs no sideways
scrolling. Screenshots are kept under test-artifacts/statement/."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.conftest import require
from tests.statement.example import deployment_with, mailer_app, published

from pledge import schema
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.statement.pages import serve_statement
from pledge.statement.versions import StatementVersions

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "statement"
SERVER_START_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(CHROMIUM.exists(), "chromium not installed: run make system-deps")
    with sync_playwright() as playwright:
        # executable_path: the Debian package's Chromium; Playwright never downloads a browser here.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A host serving four versions: 1 us-east-1, 2 us-west-2, 3 the same with a formatting change, 4 current."""
    clock = FrozenClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    settings = load_settings(data_dir=tmp_path / "data", region="us-west-2")
    runtime = Runtime.open(settings, clock=clock)
    schema.upgrade(runtime.engine)
    apps = [mailer_app()]
    # Playwright's sync API runs an event loop in this thread; publications run outside it, as under pledge serve.
    with ThreadPoolExecutor(max_workers=1) as start_up:
        start_up.submit(published, deployment_with(settings, runtime.engine, clock, apps, region="us-east-1")).result()
        clock.advance(timedelta(days=9))
        west = start_up.submit(
            published, deployment_with(settings, runtime.engine, clock, apps, region="us-west-2")
        ).result()
        clock.advance(timedelta(days=7))
        reformatted = west.markdown.replace("**Not yet provided.**", "_Not yet provided._", 1)
        assert reformatted != west.markdown, "the statement has no unprovided claim left to reformat"
        StatementVersions(runtime.engine, clock).publish(reformatted, west.verification)
        clock.advance(timedelta(days=1))
        routes = start_up.submit(asyncio.run, serve_statement(runtime, apps)).result()
    host = create_host(runtime, extra_routes=routes)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(host, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(SERVER_START_TIMEOUT)
    listener.close()
    runtime.close()


@pytest.fixture
def wide(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def narrow(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 375, "height": 812})
    yield context.new_page()
    context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide on a {widths[1]} px screen"


def test_the_statement_page_renders_with_its_verification(wide: Page, site: str) -> None:
    page = wide
    page.goto(f"{site}/privacy")
    expect(page.locator("h1")).to_have_text("Data Security & Privacy Statement")
    expect(page.locator(".meta")).to_contain_text("Version 4, published 2026-11-19 09:00 UTC")
    expect(page.locator(".verification")).to_contain_text("Last verified 2026-11-19 09:00 UTC: failed")
    expect(page.get_by_role("heading", name="App: Issue Mailer")).to_be_visible()
    expect(page.locator("table").first).to_be_visible()
    expect(page.locator("#verification li.failed").first).to_be_visible()
    _shot(page, "privacy-wide")


def test_versions_and_the_compare_page_show_the_key_and_each_kind_of_change(wide: Page, site: str) -> None:
    page = wide
    page.goto(f"{site}/privacy/versions")
    expect(page.locator(".versions li")).to_have_count(4)
    expect(page.locator(".versions li").first).to_contain_text("current")
    _shot(page, "versions-wide")

    page.get_by_role("link", name="Compare with version 1").click()
    expect(page).to_have_url(f"{site}/privacy/compare?from=1&to=2")
    for marked in (".key ins.added", ".key del.removed", ".key .format-changed", ".comparison ins.added >> nth=0"):
        expect(page.locator(marked)).to_be_visible()
    expect(page.locator(".key ins.added")).to_have_text("This line was added.")
    expect(page.locator(".key del.removed")).to_have_text("This line was removed.")
    expect(page.locator(".key .format-changed")).to_have_text("Formatting was changed.")
    expect(page.locator(".comparison del.removed")).to_have_text(["East", "N. Virginia", "us-east-1"])
    expect(page.locator(".comparison ins.added")).to_have_text(["West", "Oregon", "us-west-2"])
    expect(page.locator(".comparison .format-changed")).to_have_count(0)
    decoration = page.locator(".comparison del.removed").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert decoration == "line-through"
    _shot(page, "compare-region-wide")

    page.get_by_role("link", name="Next change →").click()
    expect(page).to_have_url(f"{site}/privacy/compare?from=2&to=3")
    expect(page.locator(".comparison .format-changed")).to_be_visible()
    expect(page.locator(".comparison em > .format-changed")).to_have_text(["Not yet provided."])
    expect(page.locator(".comparison ins.added, .comparison del.removed")).to_have_count(0)
    _shot(page, "compare-format-wide")


@pytest.mark.parametrize("width", [1280, 375])
def test_the_compare_page_reads_as_the_statement_with_a_jump_to_each_change(
    browser: Browser, site: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(f"{site}/privacy/compare?from=1&to=2")

    comparison = page.locator("article.comparison")
    expect(comparison.locator("h1")).to_have_text("Data Security & Privacy Statement")
    expect(comparison.locator("section.changed h2").first).to_be_visible()
    expect(comparison.locator("section.changed li").first).to_be_visible()
    expect(comparison.locator("section.changed strong").first).to_be_visible()
    _no_sideways_scroll(page)

    collapsed = comparison.locator("details.unchanged")
    assert collapsed.count() >= 3, "the sections the region change leaves alone are collapsed"
    first = collapsed.first
    expect(first).not_to_have_attribute("open", "")
    expect(first.locator("p, ul, table").first).to_be_hidden()
    first.locator("summary").click()
    expect(first).to_have_attribute("open", "")
    expect(first.locator("p, ul, table").first).to_be_visible()
    _no_sideways_scroll(page)
    _shot(page, f"compare-document-{width}")

    jumps = page.locator("nav.changes a.jump")
    expect(jumps).to_have_count(3)
    page.evaluate("window.scrollTo(0, 0)")
    for index in range(jumps.count()):
        link = jumps.nth(index)
        target = link.get_attribute("href")
        assert target is not None and target.startswith("#change-")
        link.click()
        expect(page).to_have_url(re.compile(f"{re.escape(target)}$"))
        change = page.locator(target)
        expect(change).to_be_in_viewport()
        expect(change).to_have_text(["East", "N. Virginia", "us-east-1"][index])
        assert change.evaluate("e => e.matches(':target') && e.closest('details:not([open])') === null")
        page.evaluate("window.scrollTo(0, 0)")
    context.close()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/privacy", "privacy"),
        ("/privacy/apps/issue-mailer", "app"),
        ("/privacy/versions", "versions"),
        ("/privacy/compare?from=1&to=2", "compare-region"),
        ("/privacy/compare?from=2&to=3", "compare-format"),
        ("/privacy/compare?from=1&to=9", "compare-unknown"),
    ],
)
def test_every_page_fits_a_narrow_screen(narrow: Page, site: str, path: str, name: str) -> None:
    page = narrow
    response = page.goto(f"{site}{path}")
    assert response is not None and response.status == (404 if name == "compare-unknown" else 200)
    _no_sideways_scroll(page)
    _shot(page, f"{name}-narrow")
