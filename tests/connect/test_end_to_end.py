"""Done when: `pledge sim` installs the reference app into a running Pledge server, sends it a webhook, loads a page,
the app calls back into the simulated Jira with a signed request, and the app is uninstalled — over real HTTP.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jwt
import uvicorn
from click.testing import CliRunner
from examples.issue_mailer.app import app as issue_mailer
from sqlalchemy import Engine
from starlette.types import ASGIApp

from pledge.cli import cli
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim.server import build_simulator
from pledge.tenants import TenantState
from pledge.trust.qsh import query_string_hash


@contextmanager
def serving(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` with uvicorn on an already bound loopback socket, in a thread, logging as ``pledge serve`` has it
    log (no access log of uvicorn's own: it would print each page load's query, its JWT; the host writes its own)."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.01)
            assert thread.is_alive(), "the server did not start"
        yield
    finally:
        server.should_exit = True
        thread.join(10)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_sim_installs_the_app_into_a_running_server_and_everything_is_signed(
    tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock
) -> None:
    app_socket, sim_socket = bound_socket(), bound_socket()
    app_port, sim_port = app_socket.getsockname()[1], sim_socket.getsockname()[1]
    sim_url = f"http://127.0.0.1:{sim_port}"
    simulator = build_simulator(sim_url, clock).connect
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        port=app_port,
        connect_install_keys_url=simulator.install_keys_url,
    )
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    descriptor_url = f"http://127.0.0.1:{app_port}/apps/issue-mailer/atlassian-connect.json"
    recorder = simulator.site.recorder
    runner = CliRunner()

    def pledge(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--sim", sim_url])
        assert result.exit_code == 0, result.output
        return result.output

    with serving(create_host(runtime, [issue_mailer]), app_socket), serving(simulator.site.asgi(), sim_socket):
        assert "installed issue-mailer" in pledge("sim", "install", descriptor_url)
        tenant = runtime.tenants.by_client_key("issue-mailer", simulator.client_key)
        assert tenant.state is TenantState.ENABLED
        assert [e.status for e in recorder.received("/connect-install-keys/")] == [200]

        assert "-> 204" in pledge("sim", "webhook", "issue-mailer", "--issue", "SIM-2")
        callback = recorder.received("/rest/api/3/issue/SIM-2")
        assert [c.status for c in callback] == [200]  # the simulated Jira verified signature and QSH
        claims = jwt.decode(
            callback[0].headers["authorization"].removeprefix("JWT "),
            simulator.installation("issue-mailer").shared_secret,
            algorithms=["HS256"],
            options={"verify_exp": False},
        )
        assert claims["iss"] == "issue-mailer"
        assert claims["exp"] - claims["iat"] == 180
        assert claims["qsh"] == query_string_hash("GET", "/rest/api/3/issue/SIM-2")

        page = pledge("sim", "page", "issue-mailer", "email-issue", "--issue", "SIM-1")
        assert "-> 200" in page and "SIM-1: Printer on fire" in page
        assert "jwt=[redacted]" in page
        assert [c.status for c in recorder.received("/rest/api/3/issue/SIM-1")] == [200]

        assert "uninstalled issue-mailer" in pledge("sim", "uninstall", "issue-mailer")
        assert runtime.tenants.get(tenant.id).state is TenantState.UNINSTALLED
        refused = runner.invoke(cli, ["sim", "webhook", "issue-mailer", "--sim", sim_url])
        assert refused.exit_code == 1 and "401" in refused.output and "tenant_inactive" in refused.output

        log = pledge("sim", "log")
        assert "-> POST " + descriptor_url.replace("atlassian-connect.json", "lifecycle/installed") + " 204" in log
        assert "eyJ" not in log  # no token is ever printed
    runtime.close()
