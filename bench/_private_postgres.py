"""A private PostgreSQL server in a temporary directory, on a free loopback port, that a fault scenario may stop and
start at will without touching the machine's own server (other people's tests use that one).

It runs the Debian server binaries (``/usr/lib/postgresql/<version>/bin``) as the ``postgres`` user when this
process is root (PostgreSQL refuses to run as root), as the current user otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.harness import free_port

SERVER_BINARIES: Final = Path("/usr/lib/postgresql")
COMMAND_TIMEOUT_SECONDS: Final = 60


class PostgresUnavailable(RuntimeError):
    """No private PostgreSQL server can be started here; the message says why."""


@dataclass(frozen=True)
class PrivatePostgres:
    url: str
    data: Path
    bin_dir: Path
    run_as: tuple[str, ...]
    port: int

    def _pg_ctl(self, *args: str) -> None:
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
        )
        if completed.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl {args[-1]} failed: {(completed.stderr or completed.stdout).strip()}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._pg_ctl("-w", "-l", str(self.data.parent / "server.log"), "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown, as ``pg_ctlcluster ... restart`` does: sessions are ended, the server checkpoints."""
        self._pg_ctl("-w", "-m", "fast", "stop")


def _server_binaries() -> Path:
    versions = sorted(SERVER_BINARIES.glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if not versions:
        raise PostgresUnavailable(f"no PostgreSQL server binaries under {SERVER_BINARIES} (apt-get install postgresql)")
    return versions[-1].parent


def _run_as() -> tuple[tuple[str, ...], int | None]:
    if os.geteuid() != 0:
        return (), None
    try:
        postgres = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no postgres user to run the server as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is missing: cannot run the server as postgres")
    return (runuser, "-u", "postgres", "--"), postgres.pw_uid


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + start on a free port (trust authentication, loopback only); stopped and deleted afterwards."""
    bin_dir = _server_binaries()
    run_as, uid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="pledge-private-pg-"))
    try:
        if uid is not None:
            os.chown(root, uid, -1)
        data = root / "data"
        initdb = [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
        completed = subprocess.run(initdb, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False)
        if completed.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(completed.stderr or completed.stdout).strip()[-300:]}")
        port = free_port()
        server = PrivatePostgres(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data, bin_dir, run_as, port
        )
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(PostgresUnavailable):  # already stopped by the scenario
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
