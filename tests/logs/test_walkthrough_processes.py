"""Issue #18 item 3, as an operator runs it: the README's Connect walkthrough word for word, every command its own
process (`pledge sim serve`, `pledge serve --app examples.issue_mailer.app:app`, then `pledge sim install`,
`webhook`, `page`, `log`, `uninstall`, `webhook`), and everything each process wrote on stdout and stderr scanned:
no token, no shared secret, no e-mail address, no accountId, no URL of the site with a path, no issue text — except
where a command's job is to show what the product saw (`sim page` prints the page, `sim log` the traffic), which are
scanned for tokens and secrets only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.foundation.test_serve import free_port, wait_for

from pledge.clock import FrozenClock
from pledge.sim.site import SimSite

ROOT = Path(__file__).resolve().parents[2]
PLEDGE = Path(sys.executable).parent / "pledge"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_SHARED_SECRET = re.compile(r"(?i)shared_?secret\W+[A-Za-z0-9_-]{16,}")


def _answers(url: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{process.args} exited {process.returncode}: {log.read_text()}")
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_connect_walkthrough_prints_and_logs_nothing_secret_or_personal(tmp_path: Path, database_url: str) -> None:
    sim_port, app_port = free_port(), free_port()
    env = {
        **os.environ,
        "PLEDGE_DATA_DIR": str(tmp_path / "data"),
        "PLEDGE_DATABASE_URL": database_url,
        "PLEDGE_PORT": str(app_port),
        "PLEDGE_CONNECT_INSTALL_KEYS_URL": f"http://127.0.0.1:{sim_port}/connect-install-keys",
        "PYTHONPATH": str(ROOT),
    }
    sim_log, serve_log = tmp_path / "sim.log", tmp_path / "serve.log"
    with sim_log.open("wb") as sim_out, serve_log.open("wb") as serve_out:
        site = subprocess.Popen(
            [PLEDGE, "sim", "serve", "--port", str(sim_port)], env=env, stdout=sim_out, stderr=sim_out
        )
        server = subprocess.Popen(
            [PLEDGE, "serve", "--app", "examples.issue_mailer.app:app"],
            env=env,
            cwd=ROOT,
            stdout=serve_out,
            stderr=serve_out,
        )
    sim_url = f"http://127.0.0.1:{sim_port}"
    app_url = f"http://127.0.0.1:{app_port}"
    commands = [
        ["install", f"{app_url}/apps/issue-mailer/atlassian-connect.json"],
        ["webhook", "issue-mailer", "--issue", "SIM-2"],
        ["page", "issue-mailer", "email-issue", "--issue", "SIM-1"],
        ["log"],
        ["uninstall", "issue-mailer"],
        ["webhook", "issue-mailer"],
    ]
    outputs: list[tuple[str, str, str]] = []
    try:
        wait_for(lambda: _answers(f"{sim_url}/_sim/log", site, sim_log), "pledge sim serve")
        wait_for(lambda: _answers(f"{app_url}/healthz", server, serve_log), "pledge serve")
        for command in commands:
            done = subprocess.run(
                [PLEDGE, "sim", *command, "--sim", sim_url], env=env, capture_output=True, timeout=60, check=False
            )
            outputs.append((command[0], done.stdout.decode(), done.stderr.decode()))
        assert "-> 401" in outputs[-1][1] + outputs[-1][2] and "tenant_inactive" in outputs[-1][1] + outputs[-1][2]
    finally:
        for process in (server, site):
            process.terminate()
            process.wait(30)

    issue_text = [fields["summary"] for fields in SimSite(sim_url, FrozenClock()).issues.values()]
    everything = {
        "token": _JWT,
        "shared secret": _SHARED_SECRET,
        "e-mail": _EMAIL,
        "accountId": re.compile(r"sim-user-\d+|557058:[0-9a-f-]{36}"),
        # Except the install-keys URL itself (the setting `pledge sim serve` tells the operator to use): the
        # statement names it among the outbound destinations. A key's own path (its id) is not allowed.
        "site URL with a path": re.compile(re.escape(sim_url) + r"/(?!connect-install-keys(?![\w/-]))[^\s\"']+"),
        "issue text": re.compile("|".join(re.escape(text) for text in issue_text)),
    }
    secrets_only = {name: everything[name] for name in ("token", "shared secret")}
    scanned = [
        ("pledge serve", serve_log.read_text(), everything),
        ("pledge sim serve", sim_log.read_text(), everything),
    ]
    for name, stdout, stderr in outputs:
        scanned.append((f"sim {name} stderr", stderr, everything))
        scanned.append((f"sim {name} stdout", stdout, secrets_only if name in {"page", "log"} else everything))
    leaks = [
        f"{where}: {kind}: {match.group(0)!r}"
        for where, text, patterns in scanned
        for kind, pattern in patterns.items()
        for match in [pattern.search(text)]
        if match
    ]
    assert leaks == [], "\n".join(leaks)
