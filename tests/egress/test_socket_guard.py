"""The egress guard below every client (S13): a real `pledge serve` whose app opens its own connections — a raw
socket, UDP, SMTP, its own HTTP client — to an undeclared destination; each is refused, logged without payload and
counted, while the deployment's own machine stays reachable. And the policy's host rules, for any host name."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from tests.egress.leaky_app import DECLARED_HOST, LOOPBACK_PORT_ENV, UNDECLARED_ADDRESS, UNDECLARED_HOST
from tests.egress.leaky_app import app as leaky_app
from tests.foundation.test_serve import PLEDGE, ROOT, Served, free_port, wait_for

from pledge.config import load_settings
from pledge.egress.refusal_counts import egress_refusal_counts_table
from pledge.egress.socket_guard import EgressPolicy, SocketGuard, SocketRefused
from pledge.host import socket_guard
from pledge.runtime import Runtime

PAYLOAD = "the customer's data"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _serve(tmp_path: Path, listener: socket.socket, **settings: str) -> Served:
    port = free_port()
    env = {
        **os.environ,
        "PLEDGE_DATA_DIR": str(tmp_path / "data"),
        "PLEDGE_PORT": str(port),
        "PLEDGE_APPS": "tests.egress.leaky_app:app",
        "PYTHONPATH": str(ROOT),
        LOOPBACK_PORT_ENV: str(listener.getsockname()[1]),
        **settings,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen([PLEDGE, "serve"], env=env, cwd=tmp_path, stdout=output, stderr=output)
    served = Served(process, f"http://127.0.0.1:{port}", log)
    wait_for(served.answers, "pledge serve to answer /healthz")
    return served


@pytest.fixture
def guarded(tmp_path: Path, listener: socket.socket) -> Iterator[Served]:
    served = _serve(tmp_path, listener)
    try:
        yield served
    finally:
        served.process.kill()
        served.process.wait()


def _attempt(served: Served, route: str) -> dict[str, str]:
    answer = httpx.get(f"{served.url}/apps/leaky/{route}", timeout=30)
    assert answer.status_code == 200, answer.text
    outcome: dict[str, str] = answer.json()
    return outcome


def test_an_app_s_own_connections_to_undeclared_destinations_are_refused_logged_and_counted(
    guarded: Served, tmp_path: Path
) -> None:
    refused_address = f"egress refused: {UNDECLARED_ADDRESS}:25 is not a declared destination"
    assert _attempt(guarded, "raw-socket") == {"outcome": "SocketRefused", "detail": refused_address}
    assert _attempt(guarded, "udp")["outcome"] == "SocketRefused"
    assert _attempt(guarded, "smtp") == {
        "outcome": "SocketRefused",
        "detail": f"egress refused: {UNDECLARED_HOST}:25 is not a declared destination",  # before any DNS lookup
    }
    assert _attempt(guarded, "own-http-client")["outcome"] == "SocketRefused"
    assert _attempt(guarded, "loop-connection") == {
        "outcome": "SocketRefused",
        "detail": f"egress refused: {UNDECLARED_HOST}:25 is not a declared destination",
    }
    assert _attempt(guarded, "loop-datagram")["outcome"] == "SocketRefused"
    assert _attempt(guarded, "loopback") == {"outcome": "sent"}  # the deployment's own machine
    assert _attempt(guarded, "declared-smtp")["outcome"] == "gaierror"  # let through; no such host on this machine

    log = guarded.log.read_text()
    assert f"egress refused: a connection to {UNDECLARED_ADDRESS}:25 (not a declared destination)" in log
    assert f"egress refused: a connection to {UNDECLARED_HOST}:25 (not a declared destination)" in log
    assert PAYLOAD not in log
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'pledge.db'}")
    with engine.connect() as connection:
        counts = {reason: count for reason, count in connection.execute(select(egress_refusal_counts_table))}
    engine.dispose()
    assert counts["socket"] >= 6  # every instance reads the sum


def test_with_the_guard_off_the_same_attempt_is_not_stopped_by_pledge(tmp_path: Path, listener: socket.socket) -> None:
    served = _serve(tmp_path, listener, PLEDGE_EGRESS_GUARD="off")
    try:
        outcome = _attempt(served, "raw-socket")
    finally:
        served.process.kill()
        served.process.wait()
    assert outcome["outcome"] != "SocketRefused"  # what refuses it then is the network (this machine has none)


POLICY = EgressPolicy.of(
    ["https://api.atlassian.com", "https://connect-install-keys.atlassian.com", "http://10.0.0.7:8333"],
    ["atlassian.net", "jira.com"],
)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(site=labels, case=st.sampled_from([str.lower, str.upper]), dot=st.sampled_from(["", "."]))
def test_every_site_under_a_product_domain_is_allowed_however_it_is_written(site: str, case: object, dot: str) -> None:
    assert POLICY.allows_name(case(f"{site}.atlassian.net") + dot)  # type: ignore[operator]
    assert POLICY.allows_name(f"{site}.jira.com")


@given(host=st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True))
def test_a_name_is_allowed_only_if_declared_or_under_a_product_domain(host: str) -> None:
    name = host.rstrip(".")
    expected = (
        name in {"api.atlassian.com", "connect-install-keys.atlassian.com", "10.0.0.7", "localhost"}
        or name.endswith((".atlassian.net", ".jira.com"))
        or (
            name.startswith("127.")
            and name.replace(".", "").isdigit()
            and name.count(".") == 3
            and all(part and int(part) < 256 and str(int(part)) == part for part in name.split("."))
        )
    )
    assert POLICY.allows_name(host) == expected


@pytest.mark.parametrize(
    "host",
    ["evilatlassian.net", "atlassian.net", "atlassian.net.evil.example", "api.atlassian.com.evil.example", ""],
)
def test_look_alike_names_are_refused(host: str) -> None:
    assert not POLICY.allows_name(host)


def test_the_guard_judges_addresses_by_what_declared_hosts_resolved_to(listener: socket.socket) -> None:
    refusals: list[None] = []
    guard = SocketGuard(POLICY, on_refusal=lambda: refusals.append(None))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        with pytest.raises(SocketRefused):
            guard.audit("socket.connect", (probe, ("203.0.113.9", 443)))
        guard.remember([(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.9", 443))])
        guard.audit("socket.connect", (probe, ("203.0.113.9", 443)))  # a declared host resolved to it
        guard.audit("socket.connect", (probe, ("10.0.0.7", 8333)))  # declared as an address
        guard.audit("socket.connect", (probe, ("::1", 5432, 0, 0)))
        with pytest.raises(SocketRefused):
            guard.audit("socket.getaddrinfo", ("exfiltrate.example", 443, 0, 0, 0))
        guard.audit("socket.getaddrinfo", (b"acme.atlassian.net", 443, 0, 0, 0))
        guard.audit("socket.getaddrinfo", (None, 443, 0, 0, 0))  # a lookup for binding: no destination
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as local:
        guard.audit("socket.connect", (local, "/run/postgresql/.s.PGSQL.5432"))  # not a network connection
    assert len(refusals) == 2


def test_every_worker_of_pledge_serve_workers_is_guarded(tmp_path: Path, listener: socket.socket) -> None:
    served = _serve(tmp_path, listener, PLEDGE_WORKERS="2")
    try:
        routes = ["raw-socket", "loop-connection"] * 4  # spread over the workers
        outcomes = {_attempt(served, route)["outcome"] for route in routes}
    finally:
        served.process.terminate()
        served.process.wait(timeout=30)
    assert outcomes == {"SocketRefused"}


def test_the_guard_of_pledge_serve_allows_the_declared_sub_processors_and_nothing_else(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", sub_processors="tests.egress.declared:SERVICE")
    runtime = Runtime.open(settings)
    try:
        policy = socket_guard(runtime, [leaky_app]).policy
    finally:
        runtime.close()
    assert policy.allows_name("o1.ingest.sentry.io")  # the service's own
    assert policy.allows_name(DECLARED_HOST)  # the app's
    assert policy.allows_name("api.atlassian.com") and policy.allows_name("acme.atlassian.net")
    assert not policy.allows_name("ingest.sentry.io") and not policy.allows_name(UNDECLARED_HOST)
