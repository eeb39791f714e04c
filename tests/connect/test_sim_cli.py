"""`pledge sim` refuses clearly what it cannot do; the happy path is the end-to-end test."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from pledge.cli import cli


def test_the_simulator_binds_loopback_only() -> None:
    result = CliRunner().invoke(cli, ["sim", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "binds loopback only" in result.output


def test_commands_without_a_running_simulator_say_how_to_start_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: nothing answers there
        result = CliRunner().invoke(cli, ["sim", "log", "--sim", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == f"pledge: no simulated site answers at http://127.0.0.1:{port}: start one with `pledge sim serve`"
    )
