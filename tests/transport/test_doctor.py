"""`pledge doctor` against a real `pledge serve` terminating TLS with certificates this test makes: it passes with the
shipped settings, and in each weak configuration (plain HTTP at the public address, no HSTS, TLS 1.1 allowed, the
forwarded-proto header believed from any peer) it fails with a one-line explanation, and so does the statement's
HTTPS claim."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.foundation.test_serve import PLEDGE, ROOT, free_port, wait_for

from pledge.config import Settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.transport.claims import check_https

APP = "examples.issue_mailer.app:app"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A CA and a certificate it signed for localhost and 127.0.0.1, valid for 90 days."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pledge test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    found.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return found


Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path, certificates: Certificates) -> Iterator[Serve]:
    """Starts `pledge serve` (development mode off, public URL https://localhost:PORT) with extra settings; with
    ``tls`` it terminates TLS with the test's certificate. The process trusts the test CA (``SSL_CERT_FILE``), so its
    statement's HTTPS check can verify its own certificate. Returns the public URL once /healthz answers."""
    processes: list[subprocess.Popen[bytes]] = []

    def started(*, tls: bool = True, **settings: str) -> str:
        port = free_port()
        url = f"https://localhost:{port}"
        tls_settings = {"PLEDGE_TLS_CERT_FILE": str(certificates.cert), "PLEDGE_TLS_KEY_FILE": str(certificates.key)}
        data = tmp_path / f"data-{port}"
        data.mkdir()
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("PLEDGE_")},
            "PLEDGE_DATA_DIR": str(data),
            "PLEDGE_PORT": str(port),
            "PLEDGE_APPS": APP,
            "PLEDGE_DEV_MODE": "false",
            "PLEDGE_BASE_URL": url,
            "PLEDGE_JOBS_ENABLED": "false",
            "PYTHONPATH": str(ROOT),
            "SSL_CERT_FILE": str(certificates.ca),
            **(tls_settings if tls else {}),
            **{f"PLEDGE_{name.upper()}": value for name, value in settings.items()},
        }
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen([PLEDGE, "serve"], env=env, cwd=tmp_path, stdout=output, stderr=output)
        processes.append(process)
        # /healthz answers plain HTTP to loopback peers (health checks on the host), HTTPS to anyone.
        health = f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz"
        context = ssl.create_default_context(cafile=str(certificates.ca))

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(health, verify=context, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, "pledge serve to answer")
        return url

    yield started
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


def doctor(url: str, certificates: Certificates) -> tuple[int, dict[str, str]]:
    """`pledge doctor URL --ca-file …`: its exit status and each check's line by name."""
    result = subprocess.run(
        [PLEDGE, "doctor", url, "--ca-file", str(certificates.ca)], capture_output=True, text=True, timeout=60
    )
    lines = {line.split(":", 1)[0].split()[-1]: line for line in result.stdout.splitlines()}
    return result.returncode, lines


def https_claim(url: str, certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """The statement's HTTPS claim for a deployment whose public URL is ``url`` (checked from this process)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))

    @dataclass(frozen=True)
    class Deployment:
        settings: Settings

    evidence = asyncio.run(check_https(Deployment(Settings(dev_mode=False, base_url=url)), None))
    return evidence.passed, evidence.detail


def handshake(port: int, version: ssl.TLSVersion) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = version
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw, context.wrap_socket(raw):
            return True
    except (OSError, ssl.SSLError):
        return False


def test_doctor_passes_against_pledge_serving_tls_and_the_statement_holds_the_claim(
    serve: Serve, certificates: Certificates
) -> None:
    url = serve()
    port = int(url.rsplit(":", 1)[1])
    assert not handshake(port, ssl.TLSVersion.TLSv1_1)
    assert not handshake(port, ssl.TLSVersion.TLSv1)
    assert handshake(port, ssl.TLSVersion.TLSv1_2)
    assert handshake(port, ssl.TLSVersion.TLSv1_3)

    status, lines = doctor(url, certificates)
    assert status == 0, lines
    assert set(lines) >= {
        "plain-http",
        "forwarded-proto",
        "tls-versions",
        "certificate",
        "hsts",
        "headers",
        "redirects",
        "cookies",
    }
    assert all(line.startswith("pass") for line in lines.values()), lines

    trusted = ssl.create_default_context(cafile=str(certificates.ca))
    # A path that differs by its trailing slash is not redirected (a redirect would repeat the page load's jwt).
    slash = httpx.get(url + "/apps/issue-mailer/atlassian-connect.json/?jwt=secret-token", verify=trusted, timeout=10)
    assert slash.status_code == 404 and "location" not in slash.headers
    statement = httpx.get(url + "/privacy.json", verify=trusted, timeout=10).json()
    marks = {claim["id"]: claim["mark"] for claim in statement["claims"]}
    assert marks["https-only"] is None  # proven by its own doctor run, not failed


def test_no_hsts_fails_the_doctor_and_the_claim(
    serve: Serve, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(hsts_max_age="0")
    status, lines = doctor(url, certificates)
    assert status == 1
    assert lines["hsts"].startswith("FAIL") and "no Strict-Transport-Security header" in lines["hsts"]
    held, detail = https_claim(url, certificates, monkeypatch)
    assert not held and "hsts: no Strict-Transport-Security header" in detail


def test_a_plain_http_public_address_fails_the_doctor_and_the_claim(
    serve: Serve, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(tls=False)
    status, lines = doctor(url, certificates)
    assert status == 1
    assert lines["certificate"].startswith("FAIL") and "no TLS at localhost" in lines["certificate"]
    # Plain HTTP itself is refused there: the server is not in development mode.
    assert lines["plain-http"].startswith("pass"), lines
    plain_url = url.replace("https://", "http://")
    status, lines = doctor(plain_url, certificates)
    assert status == 1 and "is not an https:// address" in lines["https"]
    held, detail = https_claim(url, certificates, monkeypatch)
    assert not held and "certificate: no TLS at localhost" in detail


def test_the_forwarded_header_believed_from_any_peer_fails_the_doctor_and_the_claim(
    serve: Serve, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(tls=False, trusted_proxies="0.0.0.0/0,::/0")
    status, lines = doctor(url, certificates)
    assert status == 1
    assert lines["forwarded-proto"].startswith("FAIL"), lines
    assert "the header is believed from any peer" in lines["forwarded-proto"]
    held, detail = https_claim(url, certificates, monkeypatch)
    assert not held and "forwarded-proto: plain HTTP" in detail

    # Trusting only another address: the same header from this client is ignored.
    other = serve(tls=False, trusted_proxies="10.0.0.0/8")
    status, lines = doctor(other, certificates)
    assert lines["forwarded-proto"].startswith("pass"), lines


def allow_tls_1_0(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    context = default()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.set_ciphers("ALL:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
    return context


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tls_1_1_allowed_fails_the_doctor_and_the_claim(
    tmp_path: Path, certificates: Certificates, monkeypatch: pytest.MonkeyPatch, runtime: Runtime
) -> None:
    """The same host, served by uvicorn with a TLS context that also accepts TLS 1.0 and 1.1 (what the shipped
    `pledge serve` never does)."""
    port = free_port()
    url = f"https://localhost:{port}"
    host = create_host(runtime)
    config = uvicorn.Config(
        host,
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(certificates.cert),
        ssl_keyfile=str(certificates.key),
        ssl_context_factory=allow_tls_1_0,
        log_config=None,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn to serve")
        assert handshake(port, ssl.TLSVersion.TLSv1_1)
        status, lines = doctor(url, certificates)
        assert status == 1
        assert lines["tls-versions"].startswith("FAIL")
        assert "TLS 1.0 and TLS 1.1 accepted" in lines["tls-versions"]
        held, detail = https_claim(url, certificates, monkeypatch)
        assert not held and "tls-versions: TLS 1.0 and TLS 1.1 accepted" in detail
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"PLEDGE_TLS_CERT_FILE": "junk.pem", "PLEDGE_TLS_KEY_FILE": "junk.pem", "PLEDGE_DEV_MODE": "false"},
            "not a PEM certificate chain and its matching private key",
        ),
        (
            {"PLEDGE_TLS_CERT_FILE": "absent.pem", "PLEDGE_TLS_KEY_FILE": "junk.pem", "PLEDGE_DEV_MODE": "false"},
            "cannot be read: No such file or directory",
        ),
        ({"PLEDGE_TLS_CERT_FILE": "junk.pem"}, "TLS_CERT_FILE and PLEDGE_TLS_KEY_FILE are set together"),
        ({"PLEDGE_HOST": "0.0.0.0"}, "development mode serves plain HTTP on loopback only"),
    ],
)
def test_a_start_up_that_would_not_be_https_only_stops_in_one_line(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("PLEDGE_")},
        "PLEDGE_DATA_DIR": str(tmp_path / "data"),
        "PLEDGE_PORT": str(free_port()),
        "PLEDGE_BASE_URL": "https://pledge.example.com",
        **settings,
    }
    result = subprocess.run([PLEDGE, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
