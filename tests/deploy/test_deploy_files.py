"""The deployment files of deploy/ and the Dockerfile do what docs/deployment.md says: nginx terminates TLS in front
of a real `pledge serve` and skips an instance that is down, the systemd unit verifies, and the image is built from
files that exist and starts a command and an app that exist (no Docker engine here: `docker build` is the manual
check the guide describes)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.harness import free_port, serve
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.conftest import require

from pledge.app import App
from pledge.cli.serve import load_apps
from pledge.config import load_settings
from pledge.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PUBLIC_URL = "https://pledge.example.com"


# The Dockerfile -----------------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_every_file_the_image_copies_is_in_the_repository_and_not_ignored() -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    copies = [shlex.split(arguments) for kind, arguments in dockerfile_instructions() if kind == "COPY"]
    sources = [source for words in copies if not words[0].startswith("--from") for source in words[:-1]]
    assert sources, "the Dockerfile copies nothing from the build context"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not any(Path(source).match(pattern) for pattern in ignored), f"COPY {source} is in .dockerignore"


def test_the_image_runs_the_pledge_command_with_the_example_app(monkeypatch: pytest.MonkeyPatch) -> None:
    instructions = dockerfile_instructions()
    command = json.loads(next(arguments for kind, arguments in instructions if kind == "CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts and command[1:] == ["serve"]

    environment = dict(
        pair.split("=", 1)
        for kind, arguments in instructions
        if kind == "ENV"
        for pair in shlex.split(arguments)
        if pair.startswith("PLEDGE_")
    )
    (app,) = load_apps((environment["PLEDGE_APPS"],))
    assert isinstance(app, App) and app.key == "issue-mailer"

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Outside development mode, listening on every interface: without an https public URL it must not start.
    with pytest.raises(ConfigurationError, match="outside development mode the base URL must be https"):
        load_settings()
    monkeypatch.setenv("PLEDGE_BASE_URL", PUBLIC_URL)
    settings = load_settings()
    assert (settings.dev_mode, settings.public_url, settings.port) == (False, PUBLIC_URL, 8000)


# The systemd unit ---------------------------------------------------------------------------------------------------


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed (Debian: systemd)")
    assert analyze is not None
    unit = (DEPLOY / "pledge@.service").read_text()
    assert "ExecStart=/opt/pledge/venv/bin/pledge serve" in unit
    # The unit names the installed command; here, this checkout's.
    local = unit.replace("/opt/pledge/venv/bin/pledge", str(ROOT / ".venv" / "bin" / "pledge"))
    (tmp_path / "pledge@8001.service").write_text(local)
    checked = subprocess.run(
        [analyze, "verify", str(tmp_path / "pledge@8001.service")], capture_output=True, text=True, check=False
    )
    # systemd-analyze reports a misspelt setting on stderr and still exits 0: silence is the pass.
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


# nginx --------------------------------------------------------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pledge.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def local_nginx_conf(prefix: Path, *, http_port: int, https_port: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf with only what a test must move changed: ports, certificate, pid and temp paths."""
    conf = (DEPLOY / "nginx.conf").read_text()
    cert, key = self_signed(prefix)
    replacements = {
        "user www-data;\n": "",
        "pid /run/nginx.pid;": f"pid {prefix}/nginx.pid;",
        "error_log /var/log/nginx/error.log warn;": f"error_log {prefix}/error.log warn;",
        "        listen [::]:80;\n": "",
        "        listen [::]:443 ssl http2;\n": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/pledge.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/pledge.example.com/privkey.pem": str(key),
        "http {\n": f"http {{\n    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n",
    }
    for number, port in enumerate(upstreams, start=1):
        replacements[f"server 127.0.0.1:800{number} "] = f"server 127.0.0.1:{port} "
    for old, new in replacements.items():
        assert old in conf, f"deploy/nginx.conf no longer has {old!r}: update this test"
        conf = conf.replace(old, new)
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


@pytest.fixture
def nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    require(found is not None, "nginx is not installed (Debian: nginx-light; scripts/system-deps installs it)")
    assert found is not None
    return found


@pytest.fixture
def proxied(nginx: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """nginx with deploy/nginx.conf in front of one `pledge serve` (as two of its three upstreams) and a port
    nothing listens on (the third: an instance that is down); yields its http and https ports."""
    environment = {"PLEDGE_DEV_MODE": "false", "PLEDGE_BASE_URL": PUBLIC_URL, "PLEDGE_TRUSTED_PROXIES": "127.0.0.1"}
    with serve("examples.issue_mailer.app:app", server="pledge serve", env=environment, ready_path="/healthz") as app:
        port = int(app.url.rsplit(":", 1)[1])
        http_port, https_port = free_port(), free_port()
        conf = local_nginx_conf(
            tmp_path, http_port=http_port, https_port=https_port, upstreams=[port, free_port(), port]
        )
        base = [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
        checked = subprocess.run([*base, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen([*base, "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            _wait_for_port(https_port, process)
            yield http_port, https_port
        finally:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then the master exits
            process.wait(timeout=20)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "nginx exited"
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port}")


def test_nginx_terminates_tls_in_front_of_pledge_and_skips_an_instance_that_is_down(
    proxied: tuple[int, int], tmp_path: Path
) -> None:
    http_port, https_port = proxied
    trusted = ssl.create_default_context(cafile=str(tmp_path / "fullchain.pem"))
    with httpx.Client(verify=trusted, timeout=10) as client:
        descriptor = client.get(f"https://127.0.0.1:{https_port}/apps/issue-mailer/atlassian-connect.json")
        assert descriptor.status_code == 200
        assert descriptor.json()["baseUrl"] == f"{PUBLIC_URL}/apps/issue-mailer"
        assert descriptor.headers.get_list("strict-transport-security") == ["max-age=63072000; includeSubDomains"]
        assert "server" not in descriptor.headers or "nginx/" not in descriptor.headers["server"]

        # One upstream in three refuses connections: nginx sends each request on, none fails.
        answers = [client.get(f"https://127.0.0.1:{https_port}/healthz").status_code for _ in range(9)]
        assert answers == [200] * 9
        webhook = client.post(f"https://127.0.0.1:{https_port}/apps/issue-mailer/webhooks/jira-issue-updated")
        assert webhook.status_code == 401  # reached Pledge, which wants a signed request

    plain = httpx.get(f"http://127.0.0.1:{http_port}/apps/issue-mailer/x?jwt=secret-token")
    assert (plain.status_code, plain.headers["location"]) == (301, f"{PUBLIC_URL}/")
