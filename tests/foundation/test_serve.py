"""`pledge serve` as an operator runs it: a real process, probed over HTTP, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.foundation.slow_app import GATE_ENV

from pledge.cli.serve import bind
from pledge.request_head import MAX_HEAD_BYTES, MAX_HEADER_FIELDS

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

    @property
    def port(self) -> int:
        return int(self.url.rpartition(":")[2])

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024

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
        "PLEDGE_APPS": "tests.foundation.slow_app:app,examples.issue_mailer.app:app",
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


@SQLITE_ONLY
def test_serve_runs_the_declared_jobs_and_reports_them_in_metrics(served: Served) -> None:
    succeeded = 'pledge_job_last_success_timestamp_seconds{job="tenant-lifecycle-tokens-sweep"}'
    wait_for(lambda: succeeded in httpx.get(served.url + "/metrics").text, "the first tick's run of the sweep")


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
def test_access_log_names_the_route_template_but_not_the_path_query_or_client(served: Served) -> None:
    """Page loads carry the Connect JWT and the site's URL in the query; paths carry issue keys and whatever a caller
    types; the browser's address is personal data. The access line names the route that answered, nothing else."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjbGllbnQta2V5In0.c2lnbmF0dXJlLXZhbHVl"
    query = f"xdm_e=https%3A%2F%2Facme-corp.atlassian.net&lic=active&jwt={token}"
    assert httpx.get(f"{served.url}/readyz?{query}").status_code == 200
    assert httpx.get(f"{served.url}/apps/nobody/issues/SECRET-4242/watchers").status_code == 404
    wait_for(lambda: "GET unmatched 404" in served.log.read_text(), "the access log lines")
    text = served.log.read_text()
    access = [json.loads(line) for line in text.splitlines() if '"pledge.access"' in line]
    messages = [entry["message"] for entry in access]
    assert any(re.fullmatch(r"GET /readyz 200 [0-9.]+ms", message) for message in messages), messages
    assert any(re.fullmatch(r"GET unmatched 404 [0-9.]+ms", message) for message in messages), messages
    assert "uvicorn.access" not in text
    for leaked in ("acme-corp", "c2lnbmF0dXJlLXZhbHVl", "SECRET-4242", "127.0.0.1:"):
        assert not any(leaked in message for message in messages), leaked
    assert "SECRET-4242" not in text


def exchange(port: int, request: bytes, *, then: Iterable[bytes] = (), pause: float = 0.0) -> tuple[bytes, bool]:
    """Send ``request``, then each piece of ``then`` (``pause`` seconds apart), on a fresh connection: what came back
    before the connection closed, and whether sending failed (the server reset the connection).

    A client whose send fails reports a reset, whatever the server answered: most HTTP clients do.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
        send_failed = False
        try:
            sock.sendall(request)
            for piece in then:
                time.sleep(pause)
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            send_failed = True
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        return received, send_failed


@SQLITE_ONLY
def test_an_oversized_header_is_refused_early_and_memory_stays_bounded(served: Served) -> None:
    """Before, a 100 MiB header was buffered whole; 8 concurrent 48 MiB ones took the server to about 500 MiB."""
    before = served.rss_bytes()
    megabyte = b"a" * (1024 * 1024)

    def huge_header() -> tuple[bytes, float]:
        started = time.monotonic()
        answer, _ = exchange(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", then=[megabyte] * 48)
        return answer, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: huge_header(), range(8)))
    for answer, seconds in results:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert seconds < 10
    assert served.rss_bytes() - before < 32 * 1024 * 1024
    assert httpx.get(served.url + "/healthz").json() == {"status": "alive"}


@SQLITE_ONLY
def test_too_many_header_fields_are_a_431_in_the_reason_code_shape(served: Served) -> None:
    fields = b"".join(b"X-Field-%d: v\r\n" % number for number in range(MAX_HEADER_FIELDS + 1))
    answer, _ = exchange(served.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert json.loads(body)["error"] == "headers_too_large"
    within = {f"X-Field-{number}": "v" for number in range(MAX_HEADER_FIELDS - 10)}
    assert httpx.get(served.url + "/healthz", headers=within).status_code == 200
    assert httpx.get(served.url + "/healthz", headers={"X-Big": "a" * (MAX_HEAD_BYTES // 2)}).status_code == 200


@SQLITE_ONLY
def test_refused_posts_sent_with_connection_close_all_get_their_401(served: Served) -> None:
    """Before, the server answered and closed with the body unread: the kernel reset the connection while the client
    was still sending, and 4 to 40 of 200 clients saw a reset instead of the 401."""
    body = b'{"issue": {"key": "SIM-1"}, "padding": "' + b"x" * 256_000 + b'"}'
    head = (
        b"POST /apps/issue-mailer/webhooks/jira-issue-updated HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    pieces = [body[start : start + 32_768] for start in range(0, len(body), 32_768)]

    def post(_: int) -> str:
        answer, send_failed = exchange(served.port, head, then=pieces, pause=0.002)
        return "reset while sending" if send_failed else answer.partition(b"\r\n")[0].decode()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(post, range(200)))
    assert answers == ["HTTP/1.1 401 Unauthorized"] * 200


def test_a_busy_port_is_one_line_and_status_2_before_anything_happens(tmp_path: Path) -> None:
    """Before, the statement was published and migrations ran, then uvicorn failed with a JSON error log."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        database = tmp_path / "pledge.db"
        env = {
            **os.environ,
            "PLEDGE_DATA_DIR": str(tmp_path / "data"),
            "PLEDGE_DATABASE_URL": f"sqlite:///{database}",
            "PLEDGE_PORT": str(port),
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run([PLEDGE, "serve"], env=env, cwd=tmp_path, capture_output=True, timeout=WAIT_SECONDS)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        f"pledge: cannot listen on 127.0.0.1:{port}: Address already in use: stop what uses it or set PLEDGE_PORT"
        " / --port"
    ]
    assert not database.exists()  # no migration, no statement published


def test_connections_accepted_on_the_served_socket_send_a_response_body_at_once() -> None:
    """With Nagle's algorithm on, a JSON response's body waits for the client's delayed ACK (40 ms a request)."""
    with bind("127.0.0.1", 0) as listening:
        listening.listen()
        with socket.create_connection(listening.getsockname()[:2]) as _client:
            accepted, _ = listening.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
