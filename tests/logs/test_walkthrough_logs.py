"""Issue #18 item 3: every walkthrough of the README, run in one deployment (demo endpoints, `pledge sim` install,
webhook, page, uninstall; the statement; backups; purge; legal requests), and every log line it wrote (each record
of every logger, with its traceback) and everything the commands printed, scanned for what must never be there:
tokens, the site's shared secret, e-mail addresses, accountIds, the site's URLs with a path, the simulated
site's issue text (with personal data in it), and the backup tests' corpus stored for two more sites (personal data of
every kind the guard knows, in every spelling it folds; SMTP passwords; shared secrets; mail bodies). No setting
allows any of it, so the walkthroughs run at ``PLEDGE_LOG_LEVEL`` INFO (the default) and DEBUG alike.

Real servers over real HTTP (uvicorn on loopback, as tests/connect/test_end_to_end.py), the real CLI.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from examples.issue_mailer.app import app as issue_mailer
from tests.backup.backup_corpus import personal_values, populate
from tests.connect.test_end_to_end import bound_socket, serving

from pledge import schema
from pledge.cli import cli
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim.server import build_simulator
from pledge.statement.facts import Deployment
from pledge.statement.pages import StatementPages

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _logged(records: list[logging.LogRecord]) -> list[str]:
    lines = []
    for record in records:
        lines.append(f"{record.name}: {record.getMessage()}")
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return lines


def _leaks(text: str, forbidden: dict[str, re.Pattern[str]]) -> list[str]:
    return [
        f"{name}: {match.group(0)!r} in {text[:160]!r}"
        for name, pattern in forbidden.items()
        for match in [pattern.search(text)]
        if match
    ]


@pytest.mark.parametrize("served_logs", ["INFO", "DEBUG"], indirect=True)
def test_no_walkthrough_logs_or_prints_a_secret_or_personal_data(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    served_logs: io.StringIO,
    clock: FrozenClock,
) -> None:
    app_socket, sim_socket = bound_socket(), bound_socket()
    app_port, sim_port = app_socket.getsockname()[1], sim_socket.getsockname()[1]
    sim_url = f"http://127.0.0.1:{sim_port}"
    simulator = build_simulator(sim_url, clock)
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLEDGE_PORT", str(app_port))
    monkeypatch.setenv("PLEDGE_CONNECT_INSTALL_KEYS_URL", simulator.connect.install_keys_url)
    runtime = Runtime.open(load_settings(), clock=clock)
    schema.upgrade(runtime.engine)
    # The backup tests' corpus (personal data of every kind the guard knows, SMTP passwords, shared secrets, mail
    # bodies) stored for two more sites, so backups, restores and the purge handle it; and the site's issues hold
    # personal data the app reads back from Jira.
    corpus = populate(runtime, sites=2, records=4)
    for issue, value in zip(simulator.site.issues.values(), personal_values(), strict=False):
        issue["summary"] += f" (reported by {value})"
    statement = StatementPages(Deployment.of(runtime, [issue_mailer]))
    asyncio.run(statement.publish())
    host = create_host(runtime, [issue_mailer], statement.routes())
    descriptor_url = f"http://127.0.0.1:{app_port}/apps/issue-mailer/atlassian-connect.json"
    runner = CliRunner()
    printed: list[str] = []
    """Everything Pledge's own commands printed, and what `pledge sim` printed on stderr."""
    shown_by_sim: list[str] = []
    """What `pledge sim` printed on stdout: as the product, it shows the page it loaded (the issue's summary) and the
    traffic it saw (`pledge sim log`) — its job, not a log of Pledge's; scanned for tokens and secrets only."""

    def pledge(*args: str, sim: bool = False, ok: bool = True) -> str:
        result = runner.invoke(cli, [*args, *(["--sim", sim_url] if sim else [])])
        assert (result.exit_code == 0) is ok, result.output
        (shown_by_sim if sim else printed).append(result.stdout)
        printed.append(result.stderr)
        return result.output

    with serving(host, app_socket), serving(simulator.site.asgi(), sim_socket):
        with httpx.Client(base_url=f"http://127.0.0.1:{app_port}") as client:
            for path in ("/", "/healthz", "/readyz", "/metrics", "/privacy", "/privacy.json", descriptor_url):
                assert client.get(path).status_code == 200, path
        pledge("sim", "install", descriptor_url, sim=True)
        pledge("sim", "webhook", "issue-mailer", "--issue", "SIM-2", sim=True)
        pledge("sim", "page", "issue-mailer", "email-issue", "--issue", "SIM-1", sim=True)
        tenant = runtime.tenants.by_client_key("issue-mailer", simulator.connect.client_key)
        secret = simulator.connect.installation("issue-mailer").shared_secret
        pledge("legal", "record", "--authority", "Court", "--reference", "R-1", "--tenant", tenant.id, "--scope", "x")
        pledge("legal", "list")
        verified = pledge("statement", "verify", ok=False)  # unbuilt promises: exit 1, as the README says
        assert "legal-requests" in verified and "passed" in verified
        pledge("backup", "run")
        pledge("backup", "list")
        pledge("backup", "verify", "--full")
        pledge("backup", "restore", "--tenant", tenant.id)
        pledge("sim", "uninstall", "issue-mailer", sim=True)
        pledge("sim", "webhook", "issue-mailer", sim=True, ok=False)
        pledge("purge", "--tenant", tenant.id, "--reason", "walkthrough", "--yes")
        pledge("sim", "log", sim=True)
    runtime.close()

    issue_text = [fields["summary"] for fields in simulator.site.issues.values()]
    forbidden = {
        "token": _JWT,
        "shared secret": re.compile(re.escape(secret)),
        "e-mail": _EMAIL,
        "accountId": re.compile(r"sim-user-\d+|557058:[0-9a-f-]{36}"),
        "site URL with a path": re.compile(re.escape(sim_url) + r"/[^\s\"']+"),
        "issue text": re.compile("|".join(re.escape(text) for text in issue_text)),
        "corpus": re.compile("|".join(re.escape(needle) for needle in corpus.needles)),
    }
    lines = [*_logged(caplog.records), *served_logs.getvalue().splitlines(), *printed]
    assert len(lines) > 40 and any("purged tenant" in line for line in served_logs.getvalue().splitlines())
    leaks = [leak for line in lines for leak in _leaks(line, forbidden)]
    secrets = {name: forbidden[name] for name in ("token", "shared secret")}
    leaks += [leak for text in shown_by_sim for leak in _leaks(text, secrets)]
    assert leaks == [], "\n".join(leaks)
