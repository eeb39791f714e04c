"""A product that gives up on a webhook (its client disconnects) while the request waits is no server error."""

from __future__ import annotations

import logging

import pytest
from examples.issue_mailer.app import app as issue_mailer
from starlette.types import Message
from tests.connect.conftest import World

from pledge.host import create_host
from pledge.metrics import CLIENT_LEFT


async def test_a_client_that_leaves_while_its_tenant_loads_is_logged_as_gone_not_as_an_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.install()
    world.runtime.connect_tenants.forget("issue-mailer", "acme-client-key")  # the request waits for a load
    request = world.acme.webhook_request("issue-mailer", "jira:issue_updated", {"issue": {"key": "SIM-1"}})
    host = create_host(world.runtime, [issue_mailer])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": request.url.path,
        "raw_path": request.url.raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}  # by the time the body is read, the client has gone

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        await host(scope, receive, send)  # no exception reaches the server, which would log it with a traceback
    assert sent == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    access = [r.getMessage() for r in caplog.records if r.name == "pledge.access"]
    assert access and access[-1].startswith("POST /apps/issue-mailer/webhooks/")
    assert f" {CLIENT_LEFT} " in access[-1]
