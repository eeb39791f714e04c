"""`pledge serve` as an operator runs it: a real process, probed over HTTP, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.foundation.slow_app import GATE_ENV

ROOT = Path(__file__).resolve().parents[2]
PLEDGE = Path(sys.executable).parent / "pledge"
WAIT_SECONDS = 30
# Storage plays no part in what these tests observe: one engine is enough.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"pledge serve exited {self.process.returncode}: {self.log.read_text()}")
        try:
            httpx.get(self.url + "/healthz", timeout=1)
        except httpx.TransportError:
            return False
        return True


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    path = tmp_path / "gate"
    path.mkdir()
    return path


@pytest.fixture
def served(tmp_path: Path, database_url: str, gate: Path) -> Iterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        "PLEDGE_DATA_DIR": str(tmp_path / "data"),
        "PLEDGE_DATABASE_URL": database_url,
        "PLEDGE_PORT": str(port),
        "PLEDGE_APPS": "tests.foundation.slow_app:app",
        "PYTHONPATH": str(ROOT),
        GATE_ENV: str(gate),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen([PLEDGE, "serve"], env=env, cwd=tmp_path, stdout=output, stderr=output)
    server = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(server.answers, "pledge serve to answer /healthz")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_health_and_readiness_after_migrating(served: Served) -> None:
    assert httpx.get(served.url + "/healthz").json() == {"status": "alive"}
    assert httpx.get(served.url + "/readyz").json() == {"status": "ready"}


def stop_with_a_request_in_flight(served: Served, gate: Path, stop: signal.Signals) -> httpx.Response:
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(httpx.get, served.url + "/apps/slow/hold", timeout=WAIT_SECONDS)
        wait_for((gate / "started").exists, "the slow request to reach its handler")
        served.process.send_signal(stop)
        wait_for(lambda: "Shutting down" in served.log.read_text(), "uvicorn to start shutting down")
        (gate / "release").touch()
        return in_flight.result(timeout=WAIT_SECONDS)


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(served: Served, gate: Path) -> None:
    response = stop_with_a_request_in_flight(served, gate, signal.SIGTERM)
    assert response.status_code == 200
    assert response.json() == {"released": True}
    assert served.process.wait(timeout=WAIT_SECONDS) == 0, served.log.read_text()


@SQLITE_ONLY
def test_ctrl_c_stops_the_same_way(served: Served, gate: Path) -> None:
    assert stop_with_a_request_in_flight(served, gate, signal.SIGINT).json() == {"released": True}
    assert served.process.wait(timeout=WAIT_SECONDS) == 0, served.log.read_text()


@SQLITE_ONLY
def test_access_log_names_the_path_but_not_the_query_or_the_client(served: Served) -> None:
    """Page loads carry the Connect JWT and the site's URL in the query; the browser's address is personal data."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjbGllbnQta2V5In0.c2lnbmF0dXJlLXZhbHVl"
    query = f"xdm_e=https%3A%2F%2Facme-corp.atlassian.net&lic=active&jwt={token}"
    assert httpx.get(f"{served.url}/readyz?{query}").status_code == 200
    wait_for(lambda: "GET /readyz" in served.log.read_text(), "the access log line")
    access = [json.loads(line) for line in served.log.read_text().splitlines() if "uvicorn.access" in line]
    line = next(entry for entry in access if "GET /readyz" in entry["message"])
    assert line["message"] == '"GET /readyz HTTP/1.1" 200'
    assert "acme-corp" not in served.log.read_text()
    assert "c2lnbmF0dXJlLXZhbHVl" not in served.log.read_text()
