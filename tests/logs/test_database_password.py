"""Issue #18 item 3: a database URL's password never appears in an error message or a log line, whatever the
password is made of and however the server refuses (nothing listening; a server that rejects the role). Each
password is drawn by hypothesis and put in ``PLEDGE_DATABASE_URL`` percent-encoded, as a URL must carry it; neither
its decoded nor its encoded form may appear in what the commands print, what ``/readyz`` answers, or any log record."""

from __future__ import annotations

import io
import logging
import socket
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pledge.cli import cli
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime

_PASSWORDS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from("éß€ 漢"),
    min_size=6,
    max_size=40,
).filter(lambda password: password.strip() == password)


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _targets(password: str) -> list[str]:
    encoded = quote(password, safe="")
    return [
        f"postgresql+psycopg://pledge:{encoded}@127.0.0.1:{_refusing_port()}/pledge",
        # A server that answers and refuses the role (nothing in the test server is named so).
        f"postgresql+psycopg://no_such_role_x:{encoded}@127.0.0.1:5432/pledge?connect_timeout=3",
    ]


def _revealed(password: str, text: str) -> bool:
    return any(form in text for form in {password, quote(password, safe=""), quote(password)})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=_PASSWORDS)
async def test_no_error_or_log_line_repeats_the_database_password(
    password: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, served_logs: io.StringIO
) -> None:
    caplog.clear()
    served_logs.seek(0)
    served_logs.truncate()
    runner = CliRunner()
    said: list[str] = []
    for url in _targets(password):
        monkeypatch.setenv("PLEDGE_DATABASE_URL", url)
        for command in (["db", "status"], ["db", "upgrade"], ["legal", "list"], ["tenants", "list"]):
            result = runner.invoke(cli, command)
            assert result.exit_code != 0
            said += [result.stdout, result.stderr]
            assert result.stderr.startswith("pledge: "), result.output  # one line, no traceback
        runtime = Runtime.open(load_settings())
        try:
            transport = httpx.ASGITransport(app=create_host(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                ready = await client.get("/readyz")
            assert ready.status_code == 503
            said.append(ready.text)
        finally:
            runtime.close()
    logged = [record.getMessage() for record in caplog.records]
    logged += [logging.Formatter().formatException(r.exc_info) for r in caplog.records if r.exc_info]
    assert not [text for text in [*said, *logged, served_logs.getvalue()] if _revealed(password, text)]
