"""`pledge serve --workers N`: N worker processes on one port, a dead one replaced, SIGTERM stops them all with 0."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from tests.foundation.slow_app import GATE_ENV
from tests.foundation.test_serve import PLEDGE, ROOT, WAIT_SECONDS, Served, free_port, wait_for

from pledge.cli import cli

WORKERS = 2
STARTED = "Application startup complete."


def workers_of(pid: int) -> set[int]:
    """The worker processes a supervisor started (multiprocessing's spawned children; its resource tracker is not)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = set()
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue  # it just exited
        if b"spawn_main" in command:
            found.add(child)
    return found


def running(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except FileNotFoundError:
        return False
    return "zombie" not in state


@pytest.fixture
def served_by_workers(tmp_path: Path, database_url: str) -> Iterator[Served]:
    gate = tmp_path / "gate"
    gate.mkdir()
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
        process = subprocess.Popen(
            [PLEDGE, "serve", "--workers", str(WORKERS)], env=env, cwd=tmp_path, stdout=output, stderr=output
        )
    server = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(server.answers, "pledge serve --workers to answer /healthz")
        wait_for(lambda: len(workers_of(process.pid)) == WORKERS, f"{WORKERS} workers")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_workers_serve_a_dead_one_is_replaced_and_sigterm_stops_every_one_with_status_0(
    served_by_workers: Served, tmp_path: Path
) -> None:
    served = served_by_workers
    supervisor = served.process.pid
    first = workers_of(supervisor)
    with httpx.Client() as client:
        for _ in range(20):
            assert client.get(served.url + "/readyz").json() == {"status": "ready"}
    assert httpx.get(served.url + "/apps/issue-mailer/atlassian-connect.json").status_code == 200

    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(workers_of(supervisor) - first) == 1 and len(workers_of(supervisor)) == WORKERS, "a new one")
    wait_for(lambda: served.log.read_text().count(STARTED) == WORKERS + 1, "the new worker to serve")
    workers = workers_of(supervisor)
    assert victim not in workers
    assert served.answers()

    gate = tmp_path / "gate"
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(httpx.get, served.url + "/apps/slow/hold", timeout=WAIT_SECONDS)
        wait_for((gate / "started").exists, "the slow request to reach its handler")
        served.process.send_signal(signal.SIGTERM)
        wait_for(lambda: served.log.read_text().count("Shutting down") >= WORKERS, "every worker to shut down")
        (gate / "release").touch()
        assert in_flight.result(timeout=WAIT_SECONDS).json() == {"released": True}
    assert served.process.wait(timeout=WAIT_SECONDS) == 0, served.log.read_text()
    wait_for(lambda: not any(running(pid) for pid in workers), "every worker to exit")


@pytest.mark.parametrize("count", ["0", "65"])
def test_a_worker_count_outside_1_to_64_is_one_line_and_status_2(count: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--workers", count], env={"PLEDGE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert result.output == (
        f"pledge: invalid setting PLEDGE_WORKERS={count}: must be 1 to 64 worker processes (about one per CPU core)\n"
    )
