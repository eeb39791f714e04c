"""A store write the framework refuses is a 4xx with its reason code, through the example Forge app, never a 500.

Before, a note or an event holding an e-mail address surfaced as a 500: Forge then delivered the event four more
times, each refused the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.forge.conftest import BASE

from pledge.bodies import MAX_BODY_BYTES
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite

INSTALLED = f"{BASE}/forge/lifecycle/installed"
EMAIL = "jane.doe@example.com"
PRINCIPAL = "557058:f0f0f0f0-0000-4000-8000-000000000001"


async def test_a_note_holding_an_email_is_a_422_logged_in_one_line_without_the_value(
    pledge: Runtime, site: ForgeSite, caplog: pytest.LogCaptureFixture
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    note = {"issueKey": "SIM-1", "text": f"ask {EMAIL} about the printer"}
    with caplog.at_level(logging.INFO, logger="pledge"):
        response = await site.invoke_remote(f"{BASE}/notes", installation, note, principal=PRINCIPAL)
    assert response.status_code == 422
    assert response.json() == {
        "error": "personal_data_refused",
        "message": "field notes.text holds what looks like an e-mail address, but it is declared content: declare it"
        " Category.PERSONAL in the data manifest, or do not store it",
    }
    refusals = [record.getMessage() for record in caplog.records if record.getMessage().startswith("refused ")]
    assert refusals == [f"refused POST /apps/forge-notes/notes: personal_data_refused: {response.json()['message']}"]
    assert EMAIL not in caplog.text
    listed = await site.invoke_remote(f"{BASE}/notes", installation, method="GET", principal=PRINCIPAL)
    assert listed.json() == {"notes": []}


async def test_an_event_whose_issue_holds_an_email_is_refused_with_its_reason_not_a_server_error(
    pledge: Runtime, site: ForgeSite
) -> None:
    installation = site.new_installation()
    await site.install(INSTALLED, installation)
    site.issues["SIM-1"]["summary"] = f"Printer on fire, call {EMAIL}"
    attempts = await site.deliver_trigger(
        f"{BASE}/events/issue-created", installation, {"issue": {"key": "SIM-1"}}, module_key="issue-created"
    )
    assert attempts[0].status == 422
    assert {attempt.status for attempt in attempts} == {422}  # the simulator retries what is not 2xx; never a 500


async def test_a_chunked_trigger_body_past_the_bound_is_a_413_not_a_400(pledge: Runtime, site: ForgeSite) -> None:
    """The host's body bound reaches the Forge platform endpoints too, with its own reason code."""
    installation = site.new_installation()
    fit = site.mint_fit(installation, module_type="core:trigger", module_key="pledge-installed")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the bound applies as the bytes arrive
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b" " * 65536

    assert site._transport is not None
    async with httpx.AsyncClient(transport=site._transport) as client:
        response = await client.post(INSTALLED, content=chunked(), headers={"authorization": f"Bearer {fit}"})
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
