"""An auditor reads the statement of a running `pledge serve`, then probes the server: in each weak configuration the
statement marks, and `pledge statement verify` fails, exactly the claims the configuration breaks.

Two server starts, each checking several weak spots at once (the suite stays fast):
- development mode off, an https public address at which the server answers plain HTTP (to a proxy it trusts):
  `https-only`;
- the region moved from us-east-1 to us-west-2 while sites are recorded in us-east-1 (`hosting-region`), a keyring
  said to be apart from the data on the database's own filesystem (`keyring-private`), peer deployments configured
  with no Forge app and no transfer key behind them (`data-residency` is then said to be not offered, not claimed),
  a grace period of 45 days (held: nothing is past it), in development mode (`https-only`).

Both servers run without jobs, so no backup was ever taken: the backup claims fail in both, as they should.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from tests.foundation.test_serve import PLEDGE, ROOT, WAIT_SECONDS, free_port, wait_for

from pledge import schema
from pledge.clock import SystemClock
from pledge.config import load_settings
from pledge.db import open_engine
from pledge.runtime import Runtime
from pledge.statement.render import FAILED, NOT_OFFERED, NOT_YET_PROVIDED
from pledge.statement.verify import Outcome, Verification, VerificationLog

APP = "examples.issue_mailer.app:app"
PROXIED = {"X-Forwarded-Proto": "https"}
"""What a TLS-terminating proxy in front says: outside development mode the server answers plain HTTP only to a
trusted proxy (``trusted_proxies=127.0.0.1`` here, the test standing in for it)."""


@dataclass(frozen=True)
class Started:
    process: subprocess.Popen[bytes]
    env: Mapping[str, str]
    url: str
    log: Path

    def statement(self) -> dict[str, object]:
        response = httpx.get(self.url + "/privacy.json", headers=PROXIED, timeout=WAIT_SECONDS)
        assert response.status_code == 200, self.log.read_text()
        body: dict[str, object] = response.json()
        return body

    def marks(self) -> dict[str, str | None]:
        claims = self.statement()["claims"]
        assert isinstance(claims, list)
        return {claim["id"]: claim["mark"] for claim in claims}

    def verify(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PLEDGE, "statement", "verify"], env={**self.env, "COLUMNS": "200"}, capture_output=True, text=True
        )


def _env(tmp_path: Path, port: int, **settings: str) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("PLEDGE_")},
        "PLEDGE_DATA_DIR": str(data),
        "PLEDGE_PORT": str(port),
        "PLEDGE_APPS": APP,
        "PLEDGE_HOSTING_PROVIDER": "aws",
        "PLEDGE_JOBS_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
        **{f"PLEDGE_{name.upper()}": value for name, value in settings.items()},
    }


class Start(Protocol):
    def __call__(self, port: int, env: dict[str, str]) -> Started: ...


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    processes: list[subprocess.Popen[bytes]] = []

    def started(port: int, env: dict[str, str]) -> Started:
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen([PLEDGE, "serve"], env=env, cwd=tmp_path, stdout=output, stderr=output)
        processes.append(process)
        server = Started(process, env, f"http://127.0.0.1:{port}", log)

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"pledge serve exited {process.returncode}: {log.read_text()}")
            try:
                return httpx.get(server.url + "/privacy.json", headers=PROXIED, timeout=WAIT_SECONDS).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, "pledge serve to publish its statement")
        return server

    yield started
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=WAIT_SECONDS)


def _failed(server: Started) -> dict[str, str]:
    """The claims `pledge statement verify` failed (it exits 1), with their evidence, from the run it recorded."""
    result = server.verify()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "statement verification failed" in result.stderr
    engine = open_engine(
        server.env["PLEDGE_DATABASE_URL"] if "PLEDGE_DATABASE_URL" in server.env else _default_db(server)
    )
    try:
        latest = VerificationLog(engine).latest()
    finally:
        engine.dispose()
    assert isinstance(latest, Verification)
    return {r.claim_id: r.evidence for r in latest.results if r.outcome is Outcome.FAILED}


def _default_db(server: Started) -> str:
    return f"sqlite:///{Path(server.env['PLEDGE_DATA_DIR']) / 'pledge.db'}"


NO_BACKUP_YET = {"backup-daily", "backup-encrypted", "restore-drill"}


def _failing_marks(marks: Mapping[str, str | None]) -> set[str]:
    return {claim for claim, mark in marks.items() if mark == FAILED}


def test_a_plain_http_public_address_outside_development_mode_is_marked_and_fails(start: Start, tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port, dev_mode="false", base_url=f"https://localhost:{port}", trusted_proxies="127.0.0.1")
    server = start(port, env)

    marks = server.marks()
    assert _failing_marks(marks) == {"https-only", *NO_BACKUP_YET}
    assert f"**{FAILED}.** The server's public address answers over HTTPS only" in server.statement()["markdown"]
    failed = _failed(server)
    assert set(failed) == {"https-only", *NO_BACKUP_YET}
    # `pledge doctor` from this host: nothing speaks TLS at the public address, and this (loopback) client's
    # X-Forwarded-Proto is believed.
    assert f"certificate: no TLS at localhost:{port}" in failed["https-only"]
    assert "forwarded-proto: plain HTTP to http://localhost" in failed["https-only"]
    assert failed["backup-daily"].startswith("no complete backup in ")
    # Nothing else is claimed unmarked that the server contradicts: every other mark is a gap said as one.
    held_or_gap = {mark for claim, mark in marks.items() if claim not in failed}
    assert held_or_gap <= {None, NOT_YET_PROVIDED, NOT_OFFERED}

    answers = json.loads(
        subprocess.run([PLEDGE, "statement", "marketplace"], env=env, capture_output=True, text=True).stdout
    )
    assert answers["pledge"]["claims"]["https-only"] == "failed"
    # Plain HTTP is refused outside development mode; the trusted proxy (loopback here) says the request was https.
    proxied = {"X-Forwarded-Proto": "https"}
    served = httpx.get(server.url + "/privacy/marketplace.json", headers=proxied, timeout=WAIT_SECONDS).json()
    assert served["pledge"]["claims"] == answers["pledge"]["claims"]


def test_a_region_moved_under_its_sites_and_settings_without_their_subsystem_are_marked_and_fail(
    start: Start, tmp_path: Path
) -> None:
    port = free_port()
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    east = _env(tmp_path, port, keyring_path=str(keys / "keyring.json"), region="us-east-1")
    settings = load_settings(data_dir=tmp_path / "data", keyring_path=keys / "keyring.json")
    engine = open_engine(settings.resolved_database_url)
    schema.upgrade(engine)
    runtime = Runtime.open(settings, clock=SystemClock(), engine=engine)
    runtime.tenants.create(
        app_key="issue-mailer", client_key="acme", base_url="https://acme.atlassian.net", product_type="jira"
    )
    runtime.close()
    engine.dispose()

    west = {
        **east,
        "PLEDGE_REGION": "us-west-2",
        "PLEDGE_FORGE_PEERS": "EU=https://eu.pledge.example.com",
        "PLEDGE_DELETION_GRACE_DAYS": "45",
    }
    server = start(port, west)

    marks = server.marks()
    assert _failing_marks(marks) == {"https-only", "hosting-region", "keyring-private", *NO_BACKUP_YET}
    assert marks["data-residency"] == NOT_OFFERED
    assert marks["purge-after-grace"] is None
    markdown = str(server.statement()["markdown"])
    hosting = "All data this service stores is hosted by **Amazon Web Services (AWS)** in the **US West (Oregon)**"
    assert f"- **{FAILED}.** {hosting} region (`us-west-2`)" in markdown
    assert f"- **{NOT_OFFERED}.** Data residency moves: this deployment takes no part" in markdown
    assert "- Unrecoverable deletion 45 days after uninstall" in markdown
    assert "Atlassian's **EU** data residency realm" not in markdown

    failed = _failed(server)
    assert set(failed) == {"https-only", "hosting-region", "keyring-private", *NO_BACKUP_YET}
    assert failed["hosting-region"] == "the statement says us-west-2, but 1 tenant in us-east-1"
    assert failed["keyring-private"].startswith("the keyring and the database file ")

    versions = httpx.get(server.url + "/privacy/versions", headers=PROXIED).text
    assert "Published with its verification: failed: " in versions
