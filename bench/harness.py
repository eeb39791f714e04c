"""Load-test harness: serve an ASGI app in its own process, drive it with ``wrk``, print figures side by side.

Keeps no promise itself; it measures what keeping them costs (S11 authentication, S4 encryption) against a bare
route. The server runs in a subprocess so the load generator never shares its interpreter or its GIL. Everything
binds 127.0.0.1 on a free port and every step is bounded in time.

With two or more CPUs the servers run on the last one and ``wrk`` on the first (:func:`pinned`), so the scheduler
cannot put them on one core together; on two cores anything else running still competes with both: absolute
figures are noisy, ratios within one run are what to read.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import httpx
from sqlalchemy import create_engine, text
from starlette.applications import Starlette

from pledge import schema
from pledge.app import App
from pledge.cli.serve import keep_for_good
from pledge.config import load_settings, mask_passwords
from pledge.host import create_host
from pledge.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
Server = Literal["uvicorn", "granian", "pledge serve"]

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
MAX_DURATION_SECONDS = 60


class BenchError(RuntimeError):
    """A benchmark could not produce trustworthy figures (server did not start, wrong responses, no wrk)."""


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0


@dataclass(frozen=True)
class Row:
    """One line of a results table: what was measured, its figures, and an optional short note."""

    name: str
    result: LoadResult
    note: str = ""


@dataclass(frozen=True)
class Served:
    """A running server: its base URL (no trailing slash), the data dir its ``PLEDGE_DATA_DIR`` points to, its pid."""

    url: str
    data_dir: Path
    pid: int

    def cpu_seconds(self) -> float:
        """User and system CPU time the server process has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        """The server process's resident set size now (Linux ``/proc``, ``VmRSS``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise BenchError(f"no VmRSS for process {self.pid}: is it still running?")


class CpuPerRequest:
    """Wraps loads of one server so each also records the server's CPU time per answered request.

    Steadier than requests/s on a shared machine: time the server spends waiting for the load generator, or for a
    core, does not count. Wrapped loads must not warm up inside the measurement (``warmup=0``).
    """

    def __init__(self, served: Served) -> None:
        self._served = served
        self._samples: dict[str, list[float]] = {}

    def __call__(self, name: str, load: Callable[[], LoadResult]) -> Callable[[], LoadResult]:
        def measured() -> LoadResult:
            before = self._served.cpu_seconds()
            result = load()
            spent = self._served.cpu_seconds() - before
            self._samples.setdefault(name, []).append(spent / max(result.requests, 1) * 1e6)
            return result

        return measured

    def median_us(self, name: str) -> float:
        runs = sorted(self._samples[name])
        return runs[len(runs) // 2]


_CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPU, LOAD_CPU = (_CPUS[-1], _CPUS[0]) if len(_CPUS) >= 2 else (None, None)


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps a child on one CPU (None where there is only one CPU to run on)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


POSTGRES_URL: Final = os.environ.get("PLEDGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class PostgresUnreachable(BenchError):
    """The PostgreSQL server the benchmarks use cannot be reached or cannot create a schema."""


@contextmanager
def postgres_schema(admin_url: str = POSTGRES_URL) -> Iterator[str]:
    """A fresh schema of its own on ``admin_url``'s database (``PLEDGE_BENCH_POSTGRES_URL``), dropped afterwards:
    the URL that uses it. :class:`PostgresUnreachable` when the server is not usable."""
    name = f"pledge_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise PostgresUnreachable(
            f"PostgreSQL at {mask_passwords(admin_url)} is not usable ({type(exc).__name__}):"
            " set PLEDGE_BENCH_POSTGRES_URL"
        ) from None
    try:
        yield f"{admin_url}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _server_command(target: str, port: int, server: Server, factory: bool) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if server == "pledge serve":
        if factory:
            raise BenchError("`pledge serve` takes an App (module:attribute), not a factory")
        return [str(bin_dir / "pledge"), "serve", "--port", str(port), "--app", target]
    if server == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
        return [*command, "--factory"] if factory else command
    granian = shutil.which("granian", path=str(bin_dir)) or shutil.which("granian")
    if granian is None:
        raise BenchError("granian is not installed: `make bench` installs requirements.lock")
    command = [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--loop", "uvloop", "--http", "1", "--no-ws", "--no-access-log", "--log-level", "warning"]
    return [*command, "--factory", target] if factory else [*command, target]


@contextmanager
def serve(
    target: str,
    *,
    factory: bool = False,
    server: Server = "uvicorn",
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    ready_path: str = "/",
    command: Callable[[int], list[str]] | None = None,
    cwd: Path = ROOT,
) -> Iterator[Served]:
    """Serve ``target`` (``module:attribute``, an ASGI app or with ``factory=True`` a function returning one).

    ``server="pledge serve"`` runs the real command instead, with ``target`` as its app (a Pledge ``App``): the
    host as shipped, access log and all.

    The child gets ``PLEDGE_DATA_DIR`` (``data_dir``, or a fresh temporary directory), the repository on its
    ``PYTHONPATH`` so ``bench.<module>:<factory>`` imports, and ``env``; the caller's own ``PLEDGE_*`` variables are
    not passed on, so a developer's settings do not change the figures (pass ``PLEDGE_DATABASE_URL`` in ``env``
    to measure on PostgreSQL). ``command`` (given the port) runs another server instead, in ``cwd``, with
    ``target`` only naming it (bench/ace's Node app). Ready means ``ready_path`` answered with any status
    below 500. On exit the server gets SIGTERM, then SIGKILL if it has not stopped after 10 s.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pledge-bench-") as scratch:
        data = data_dir or Path(scratch) / "data"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PLEDGE_")}
        child_env |= {
            "PLEDGE_DATA_DIR": str(data),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }
        log_path = Path(scratch) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command(port) if command else _server_command(target, port, server, factory),
                cwd=cwd,
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=pinned(SERVER_CPU),
            )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_until_ready(process, url + ready_path, log_path)
                yield Served(url=url, data_dir=data, pid=process.pid)
            finally:
                _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with status {process.returncode}: {_tail(log_path)}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise BenchError(f"server not ready at {url} after {STARTUP_TIMEOUT_SECONDS:.0f} s: {_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log_path: Path, lines: int = 5) -> str:
    text = log_path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(no output)"


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _wrk_script(method: str, headers: Mapping[str, str], body: str | bytes | None) -> str:
    lines = [f"wrk.method = {_lua_string(method)}"]
    lines += [f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}" for name, value in headers.items()]
    if body is not None:
        text = body.decode() if isinstance(body, bytes) else body
        lines.append(f"wrk.body = {_lua_string(text)}")
    return "\n".join(lines) + "\n"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise BenchError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> tuple[LoadResult, int, int]:
    """Requests/s, p50 and p99 from ``wrk --latency`` output, plus its non-2xx/3xx and socket error counts."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot read wrk output: {output.strip()[:300]}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    result = LoadResult(
        rps=float(rps.group(1)),
        p50_ms=_duration_ms(p50.group(1)),
        p99_ms=_duration_ms(p99.group(1)),
        requests=int(total.group(1)),
    )
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return result, int(non_2xx.group(1)) if non_2xx else 0, errors


def run_wrk(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    duration: int = 5,
    connections: int = 32,
    threads: int = 1,
    warmup: int = 1,
    expect_success: bool = True,
    script: str | None = None,
) -> LoadResult:
    """Load ``url`` with ``wrk`` for ``duration`` seconds (after ``warmup`` seconds not counted).

    Every request is the same (method, headers, body), unless ``script`` (wrk Lua, in place of the one made from
    them) builds each request itself. With ``expect_success`` (the default) any non-2xx/3xx
    response or socket error raises :class:`BenchError`: a fast 401 is not a benchmark of the 200 path. Pass
    ``expect_success=False`` to measure rejections on purpose.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: run scripts/system-deps (as root) or apt-get install wrk")
    if not 0 < duration <= MAX_DURATION_SECONDS:
        raise BenchError(f"duration must be 1..{MAX_DURATION_SECONDS} s, not {duration}")
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise BenchError(f"benchmarks load loopback only, not {url}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script_file:
        script_file.write(script or _wrk_script(method.upper(), headers or {}, body))
    try:
        base = [wrk, f"-t{threads}", f"-c{connections}", "-s", script_file.name, "--latency"]
        if warmup:
            _wrk(base, warmup, url)
        result, non_2xx, errors = parse_wrk(_wrk(base, duration, url))
    finally:
        os.unlink(script_file.name)
    if expect_success and (non_2xx or errors):
        raise BenchError(f"{method} {url}: {non_2xx} non-2xx/3xx responses and {errors} socket errors under load")
    return result


def _wrk(base: Sequence[str], duration: int, url: str) -> str:
    completed = subprocess.run(
        [*base, f"-d{duration}s", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=False,
        preexec_fn=pinned(LOAD_CPU),
    )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip() or completed.stdout[:300]}")
    return completed.stdout


def interleave(loads: Mapping[str, Callable[[], LoadResult]], *, rounds: int = 3) -> list[Row]:
    """Run every load once per round, in turn, and keep each one's median round (by requests/s).

    On a shared machine, background work comes in bursts; taking turns spreads a burst over every scenario
    instead of letting it sink whichever happened to run then. Serve all the targets first, then interleave.
    """
    results: dict[str, list[LoadResult]] = {name: [] for name in loads}
    for _ in range(rounds):
        for name, load in loads.items():
            results[name].append(load())
    return [
        Row(name, sorted(runs, key=lambda run: run.rps)[len(runs) // 2], f"median of {rounds}")
        for name, runs in results.items()
    ]


def print_table(rows: Sequence[Row], *, title: str = "") -> None:
    """Print rows side by side; ``vs first`` is each row's requests/s relative to the first row."""
    if not rows:
        return
    width = max(len("scenario"), *(len(row.name) for row in rows))
    if title:
        print(f"\n{title}")
    header = f"{'scenario':<{width}}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'vs first':>7}"
    print(header)
    print("-" * len(header))
    first = rows[0].result.rps
    for row in rows:
        ratio = row.result.rps / first if first else float("nan")
        line = (
            f"{row.name:<{width}}  {row.result.rps:>9,.0f}  {row.result.p50_ms:>8.2f}  "
            f"{row.result.p99_ms:>8.2f}  {ratio:>7.2f}"
        )
        print(f"{line}  {row.note}".rstrip())


def pledge_host(*apps: App) -> Starlette:
    """The Pledge host serving ``apps``, as ``pledge serve`` builds it, for a ``--factory`` target in a child.

    Settings come from the child's environment (``PLEDGE_DATA_DIR`` set by :func:`serve`); the schema is upgraded
    first, so the parent can seed rows through ``Served.data_dir`` once the server is ready; what start-up built is
    left out of the collector's full passes, as ``pledge serve`` leaves it (:func:`pledge.cli.serve.keep_for_good`).
    """
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    host = create_host(runtime, apps)
    keep_for_good()
    return host
