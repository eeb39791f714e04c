"""S4, S5, S13: the S3 backup target against a real S3 server (SeaweedFS on loopback, see conftest.py).

Objects are immutable and whole, Object Lock retention is enforced by the server, failures are bounded and named,
credentials never show, and no request leaves for a destination the egress allowlist does not hold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from bench.harness import free_port
from bench.seaweed import S3Server
from botocore.exceptions import ClientError
from pydantic import SecretStr

from pledge.backup.s3 import S3Credentials, S3Limits, S3Target
from pledge.backup.s3_location import S3Location
from pledge.backup.target import BackupTarget, ObjectExists, ObjectLocked, ObjectMissing, TargetUnavailable
from pledge.config import load_settings
from pledge.egress import EgressRefused, OutboundClient
from pledge.errors import ConfigurationError
from pledge.logs import configure_logging
from pledge.runtime import Runtime

# Short bounds for the failure tests: the defaults would make a dead server cost minutes of test time.
QUICK = S3Limits(connect_timeout=1.0, read_timeout=1.0, attempts=2)


def location(endpoint_url: str, bucket: str, prefix: str = "backups") -> S3Location:
    return S3Location.parse(f"s3://{bucket}/{prefix}", endpoint_url=endpoint_url, region="us-east-1", path_style=True)


def target(
    server: S3Server,
    bucket: str,
    *,
    prefix: str = "backups",
    endpoint_url: str | None = None,
    secret: str | None = None,
    **options: Any,
) -> S3Target:
    """A target on ``bucket``, its egress allowing exactly the endpoint it uses."""
    endpoint = endpoint_url or server.endpoint_url
    credentials = S3Credentials(SecretStr(server.access_key_id), SecretStr(secret or server.secret_access_key))
    return S3Target(location(endpoint, bucket, prefix), OutboundClient([endpoint]), credentials=credentials, **options)


def in_the_future(days: int = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_it_describes_itself_by_bucket_and_prefix(s3_server: S3Server, s3_bucket: str) -> None:
    store: BackupTarget = target(s3_server, s3_bucket)  # the protocol, as mypy would check it
    assert store.description == f"s3://{s3_bucket}/backups"
    assert target(s3_server, s3_bucket, prefix="").description == f"s3://{s3_bucket}"


def test_put_get_and_list_under_the_prefix(s3_server: S3Server, s3_bucket: str) -> None:
    store = target(s3_server, s3_bucket)
    objects = {"b/2/manifest": b"m" * 10, "b/1/segment-0": os.urandom(3 << 20), "a": b"", "b/10": b"x"}
    for name, data in objects.items():
        store.put(name, data)
    assert {name: store.get(name) for name in objects} == objects
    assert store.list() == sorted(objects)
    assert store.list("b/1") == ["b/1/segment-0", "b/10"]
    assert store.list("c") == []
    keys = [item["Key"] for item in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sorted(keys) == sorted(f"backups/{name}" for name in objects)
    assert target(s3_server, s3_bucket, prefix="other").list() == []


def test_listing_reads_every_page(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    names = [f"many/{number:05d}" for number in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: client.put_object(Bucket=s3_bucket, Key=f"backups/{name}", Body=b"."), names))
    first_page = client.list_objects_v2(Bucket=s3_bucket, Prefix="backups/")
    assert first_page["IsTruncated"] and first_page["KeyCount"] < len(names)  # the server pages too
    assert target(s3_server, s3_bucket).list() == names
    assert target(s3_server, s3_bucket, limits=S3Limits(page_size=7)).list("many/0000") == names[:10]


def test_names_that_are_not_backup_object_names_are_left_out_of_listings(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="backups/Notes.TXT", Body=b"someone else's")
    store = target(s3_server, s3_bucket)
    store.put("ours", b"1")
    assert store.list() == ["ours"]
    assert "1 objects whose names are not backup object names left out" in caplog.text


def test_an_object_is_never_overwritten(s3_server: S3Server, s3_bucket: str) -> None:
    store = target(s3_server, s3_bucket)
    store.put("manifest", b"first")
    with pytest.raises(ObjectExists, match=f"s3://{s3_bucket}/backups: manifest exists"):
        store.put("manifest", b"second")
    assert store.get("manifest") == b"first"


def test_of_two_writers_racing_for_one_name_exactly_one_wins(s3_server: S3Server, s3_bucket: str) -> None:
    """Both may pass the existence check; the conditional put (If-None-Match) lets only one through."""
    stores = [target(s3_server, s3_bucket), target(s3_server, s3_bucket)]
    for round_number in range(12):
        name = f"race/{round_number}"
        start = threading.Barrier(2)

        def write(index: int, name: str = name, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                stores[index].put(name, f"writer {index}".encode())
            except ObjectExists:
                return "refused"
            return "stored"

        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(write, range(2)))
        assert sorted(outcomes) == ["refused", "stored"]
        winner = outcomes.index("stored")
        assert stores[0].get(name) == f"writer {winner}".encode()


def test_a_missing_object(s3_server: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ObjectMissing, match=f"s3://{s3_bucket}/backups: no object nothing/here"):
        target(s3_server, s3_bucket).get("nothing/here")


def test_delete_removes_and_is_idempotent(s3_server: S3Server, s3_bucket: str) -> None:
    store = target(s3_server, s3_bucket)
    store.put("old/segment", b"data")
    store.delete("old/segment")
    store.delete("old/segment")
    store.delete("never/was")
    assert store.list() == []
    with pytest.raises(ObjectMissing):
        store.get("old/segment")
    store.put("old/segment", b"again")  # the name is free again
    assert store.get("old/segment") == b"again"


@pytest.mark.parametrize("name", ["", "../escape", "a/../b", ".hidden", "a//b", "UPPER", "a/", "/a", "a b", "a\\b"])
def test_names_outside_the_rule_are_refused_before_any_request(s3_server: S3Server, s3_bucket: str, name: str) -> None:
    store = target(s3_server, s3_bucket)
    for call in (lambda: store.put(name, b"x"), lambda: store.get(name), lambda: store.delete(name)):
        with pytest.raises(ValueError, match="not a backup object name"):
            call()
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_a_bucket_that_does_not_exist_is_named(s3_server: S3Server) -> None:
    store = target(s3_server, "pledge-no-such-bucket")
    with pytest.raises(TargetUnavailable, match="the bucket pledge-no-such-bucket does not exist at http://127"):
        store.put("a", b"x")
    with pytest.raises(TargetUnavailable, match="does not exist"):
        store.list()


def test_wrong_credentials_are_refused_without_showing_them(s3_server: S3Server, s3_bucket: str) -> None:
    wrong = "wrong-secret-" + "x" * 20
    with pytest.raises(TargetUnavailable, match="access denied") as refused:
        target(s3_server, s3_bucket, secret=wrong).list()
    assert wrong not in str(refused.value) and s3_server.access_key_id not in str(refused.value)


# Object Lock


def test_retention_blocks_delete_until_its_date(s3_server: S3Server, s3_locked_bucket: str) -> None:
    store = target(s3_server, s3_locked_bucket)
    until = in_the_future(days=31).replace(microsecond=0)
    store.put("daily/manifest", b"kept a month", retain_until=until)
    assert store.object_lock
    with pytest.raises(ObjectLocked, match=f"s3://{s3_locked_bucket}/backups: daily/manifest is under Object Lock"):
        store.delete("daily/manifest")
    assert store.list() == ["daily/manifest"]  # no delete marker hides it either
    assert store.get("daily/manifest") == b"kept a month"
    head = s3_server.client().head_object(Bucket=s3_locked_bucket, Key="backups/daily/manifest")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until


def test_compliance_retention_holds_against_the_admin_too(s3_server: S3Server, s3_locked_bucket: str) -> None:
    """COMPLIANCE, not GOVERNANCE: bypassing governance retention, as an admin may, does not delete it."""
    target(s3_server, s3_locked_bucket).put("segment", b"x", retain_until=in_the_future())
    client = s3_server.client()
    [version] = client.list_object_versions(Bucket=s3_locked_bucket)["Versions"]
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(
            Bucket=s3_locked_bucket,
            Key="backups/segment",
            VersionId=version["VersionId"],
            BypassGovernanceRetention=True,
        )


def test_an_unretained_object_in_a_locked_bucket_is_deleted_with_every_version(
    s3_server: S3Server, s3_locked_bucket: str
) -> None:
    store = target(s3_server, s3_locked_bucket)
    store.put("scratch", b"x")
    store.delete("scratch")
    store.delete("scratch")
    versions = s3_server.client().list_object_versions(Bucket=s3_locked_bucket, Prefix="backups/scratch")
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


def test_retention_is_ignored_where_the_bucket_has_no_object_lock(s3_server: S3Server, s3_bucket: str) -> None:
    store = target(s3_server, s3_bucket)
    store.put("daily/manifest", b"x", retain_until=in_the_future())
    assert not store.object_lock
    store.delete("daily/manifest")
    assert store.list() == []


def test_a_bucket_without_object_lock_is_refused_when_it_is_required(s3_server: S3Server, s3_bucket: str) -> None:
    store = target(s3_server, s3_bucket, require_object_lock=True)
    with pytest.raises(TargetUnavailable, match="has no S3 Object Lock, which PLEDGE_BACKUP_S3_REQUIRE_OBJECT_LOCK"):
        store.put("a", b"x", retain_until=in_the_future())
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_a_retention_date_without_time_zone_is_a_programming_error(s3_server: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        target(s3_server, s3_bucket).put("a", b"x", retain_until=datetime(2030, 1, 1))


# Failures are bounded and named


def test_a_closed_port_is_unavailable(s3_server: S3Server, s3_bucket: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = target(s3_server, s3_bucket, endpoint_url=endpoint, limits=QUICK)
    with pytest.raises(TargetUnavailable, match=rf"s3://{s3_bucket}/backups: .*{endpoint} unreachable"):
        store.put("a", b"x")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_never_answers_is_unavailable_not_a_hang(
    s3_server: S3Server, s3_bucket: str, silent_server: str
) -> None:
    store = target(s3_server, s3_bucket, endpoint_url=silent_server, limits=QUICK)
    with pytest.raises(TargetUnavailable, match=r"unreachable \(ReadTimeoutError\)"):
        store.get("a")


@pytest.fixture
def throttling_server() -> Iterator[tuple[str, list[str]]]:
    """A server that answers every request as an overloaded S3 does: 503 SlowDown."""
    requests: list[str] = []

    class SlowDown(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            requests.append(f"{self.command} {self.path}")
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_throttling_is_retried_a_bounded_number_of_times_then_unavailable(
    s3_server: S3Server, throttling_server: tuple[str, list[str]]
) -> None:
    endpoint, requests = throttling_server
    store = target(s3_server, "pledge-backups", endpoint_url=endpoint, limits=QUICK)
    with pytest.raises(TargetUnavailable, match="the server answered 503 SlowDown; retry later"):
        store.list()
    assert len(requests) == QUICK.attempts


class CuttingProxy:
    """A TCP proxy to the S3 server that cuts any connection once the client has sent ``limit`` bytes: the
    server going down in the middle of an upload."""

    def __init__(self, upstream: str, limit: int) -> None:
        self._upstream = ("127.0.0.1", int(upstream.rsplit(":", 1)[1]))
        self._limit = limit
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, counted: bool) -> None:
        sent = 0
        try:
            while chunk := source.recv(65536):
                sent += len(chunk) if counted else 0
                if sent > self._limit:
                    self.cuts += 1
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self._listener.close()


def test_the_server_going_down_during_a_put_leaves_nothing_half_written(s3_server: S3Server, s3_bucket: str) -> None:
    proxy = CuttingProxy(s3_server.endpoint_url, limit=256 << 10)
    try:
        cut = target(s3_server, s3_bucket, endpoint_url=proxy.endpoint_url, limits=QUICK)
        cut.list()  # the bucket check and a listing pass: small requests
        data = os.urandom(4 << 20)
        with pytest.raises(TargetUnavailable, match=r"storing daily/segment-0: .* unreachable"):
            cut.put("daily/segment-0", data)
        assert proxy.cuts >= 1
    finally:
        proxy.close()
    direct = target(s3_server, s3_bucket)
    assert direct.list() == []
    with pytest.raises(ObjectMissing):
        direct.get("daily/segment-0")
    direct.put("daily/segment-0", data)  # the next run stores it whole
    assert direct.get("daily/segment-0") == data


# Credentials stay secret


@pytest.fixture
def verbose_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging as ``pledge serve`` configures it at DEBUG, its most verbose, every record also captured."""
    names = ("", "botocore", "alembic", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [
        (logging.getLogger(name), logging.getLogger(name).handlers[:], logging.getLogger(name).level) for name in names
    ]
    configure_logging("DEBUG")
    logging.getLogger().addHandler(caplog.handler)
    yield caplog
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_credentials_appear_in_no_message_log_record_or_description(
    s3_server: S3Server, s3_bucket: str, s3_locked_bucket: str, verbose_logs: pytest.LogCaptureFixture
) -> None:
    secrets = (s3_server.access_key_id, s3_server.secret_access_key)
    store = target(s3_server, s3_bucket)
    locked = target(s3_server, s3_locked_bucket)
    store.put("a", b"x")
    store.list()
    store.get("a")
    store.delete("a")
    locked.put("kept", b"x", retain_until=in_the_future())
    failures: list[BaseException] = []
    for call in (
        lambda: store.get("missing"),
        lambda: locked.delete("kept"),
        lambda: store.put("kept", b"x") or store.put("kept", b"x"),
        lambda: target(s3_server, s3_bucket, secret="not-the-secret").list(),
        lambda: target(s3_server, "pledge-no-such-bucket").list(),
        lambda: target(s3_server, s3_bucket, endpoint_url=f"http://127.0.0.1:{free_port()}", limits=QUICK).list(),
    ):
        with pytest.raises(Exception) as raised:
            call()
        failures.append(raised.value)
    texts = [str(error) for error in failures] + [repr(error) for error in failures]
    texts += [record.getMessage() for record in verbose_logs.records] + [verbose_logs.text]
    texts += [store.description, repr(store), str(vars(store))]
    assert len(verbose_logs.records) > 0
    for secret in secrets:
        assert not [text for text in texts if secret in text]


def test_pledge_config_masks_the_credentials(s3_server: S3Server) -> None:
    from pledge.cli.config_command import describe

    settings = load_settings(
        backup_s3_access_key_id=s3_server.access_key_id, backup_s3_secret_access_key=s3_server.secret_access_key
    )
    shown = {view.variable: view.value for view in describe(settings, None, {})}
    assert shown["PLEDGE_BACKUP_S3_ACCESS_KEY_ID"] == shown["PLEDGE_BACKUP_S3_SECRET_ACCESS_KEY"] == "**********"
    assert s3_server.secret_access_key not in repr(settings) and s3_server.access_key_id not in repr(settings)


# Egress (S13)


@pytest.fixture
def listening() -> Iterator[tuple[str, list[socket.socket]]]:
    """An endpoint that records every connection made to it."""
    connections: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)

    def accept() -> None:
        while True:
            try:
                connections.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    listener.close()
    for connection in connections:
        connection.close()


def test_an_endpoint_outside_the_egress_allowlist_is_refused_before_a_byte_is_sent(
    s3_server: S3Server, listening: tuple[str, list[socket.socket]]
) -> None:
    endpoint, connections = listening
    egress = OutboundClient([s3_server.endpoint_url])
    with pytest.raises(EgressRefused, match=f"refused outbound request to {endpoint}: not an allowed destination"):
        S3Target(location(endpoint, "pledge-backups"), egress)
    assert egress.refusals == 1 and connections == []


@pytest.mark.parametrize(
    ("endpoint_url", "bucket", "path_style"),
    [
        ("https://s3.example.invalid", "pledge-backups", False),
        ("https://s3.example.invalid", "pledge-backups", True),
        ("https://s3.example.invalid:9443", "pledge-backups", False),
        ("https://s3.example.invalid", "pledge.backups", False),
        ("http://127.0.0.1:9", "pledge-backups", False),
    ],
)
def test_the_origin_allowed_is_the_one_requests_go_to(endpoint_url: str, bucket: str, path_style: bool) -> None:
    """Allowing exactly :attr:`S3Location.origin`, requests pass the egress check (and then fail to connect, the
    hosts being unreachable): the origin the runtime allows is the one botocore addresses."""
    where = S3Location.parse(f"s3://{bucket}/b", endpoint_url=endpoint_url, region="eu-west-1", path_style=path_style)
    egress = OutboundClient([where.origin])
    with pytest.raises(TargetUnavailable, match="unreachable"):
        S3Target(where, egress, credentials=S3Credentials(SecretStr("k"), SecretStr("s")), limits=QUICK).list()
    assert egress.refusals == 0


def test_locations_address_one_bucket() -> None:
    aws = S3Location.parse("s3://pledge-backups/eu", endpoint_url=None, region="eu-west-1", path_style=False)
    assert aws.origin == "https://pledge-backups.s3.eu-west-1.amazonaws.com"
    assert aws.addresses("https://pledge-backups.s3.eu-west-1.amazonaws.com/eu/x")
    assert not aws.addresses("https://other.s3.eu-west-1.amazonaws.com/eu/x")
    path = S3Location.parse("s3://pledge-backups", endpoint_url="https://minio.example", region="x", path_style=True)
    assert path.origin == "https://minio.example"
    assert path.addresses("https://minio.example/pledge-backups/x") and path.addresses(
        "https://minio.example/pledge-backups?list-type=2"
    )
    assert not path.addresses("https://minio.example/other-bucket/x")
    assert not path.addresses("https://minio.example")


def test_the_runtime_allows_the_backup_bucket(tmp_path: Any) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        backup_target="s3://pledge-backups/eu",
        backup_s3_endpoint_url="https://objects.example.com",
        backup_s3_path_style=True,
    )
    runtime = Runtime.open(settings)
    try:
        assert runtime.egress.allows("https://objects.example.com/pledge-backups/eu/x")
        assert S3Target.from_settings(settings, runtime.egress).description == "s3://pledge-backups/eu"
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backup_target": "s3://Bad_Bucket/x"}, "is not an S3 bucket name"),
        ({"backup_target": "s3://pledge-backups/../x"}, "the prefix must be path segments"),
        ({"backup_s3_endpoint_url": "http://objects.example.com"}, "must be https, except on loopback"),
        ({"backup_s3_endpoint_url": "https://key:secret@objects.example.com"}, "without a path, query or credentials"),
        ({"backup_s3_access_key_id": "AKIAEXAMPLE"}, "are set together or not at all"),
    ],
)
def test_settings_refused_at_start_up(tmp_path: Any, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        Runtime.open(load_settings(data_dir=tmp_path, **overrides)).close()
    assert "secret" not in str(refused.value) and "AKIAEXAMPLE" not in str(refused.value)
