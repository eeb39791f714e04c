"""The server as shipped (issue 13): ``pledge serve`` against plain Starlette + uvicorn and against
atlassian-connect-express 11, with one tenant and with many, on SQLite and PostgreSQL, Forge, and memory.

    python -m bench serve [--seconds 3] [--rounds 3] [--tenants 10000] [--memory-seconds 20] [--only SECTION ...]

Sections, each a table with server CPU per request and its target beside it:

- ``public``: the baseline's JSON route on ``pledge serve`` (default settings, access log on) and on plain Starlette
  + uvicorn (target: ≥ 90 % by requests/s);
- ``connect``: the Connect webhook (connect_auth's app: JWT + exact QSH, tenant state, parse the event, 204) on
  ``pledge serve`` and on ACE 11 + Express (bench/ace, installed by ``npm ci --ignore-scripts``), one tenant, then
  ``--tenants`` tenants each request from a random one (wrk picks one of the pre-signed tokens per request), on
  SQLite and on a fresh PostgreSQL schema, also right after a restart (cold), as shipped (the tenant cache loaded
  before the server listens: the load's time is printed, measured in this process) and with
  ``PLEDGE_TENANT_PRELOAD=off``, with each one's resident set once ready. Targets: one tenant ≥ 3 times ACE, many
  tenants ≥ 80 % of one tenant (warm and cold) and ≥ 3 times ACE on the same many-tenant load;
- ``forge``: the FIT route's added server CPU per request (over the bare route given the same requests) against one
  RSA-2048 signature check alone in this process (target ≤ twice), reusing bench/forge_auth.py;
- ``memory``: the SQLite ``pledge serve`` worker's resident set at start, after every tenant has been seen, and
  after ``--memory-seconds`` of many-tenant load (target: growth under 1 MiB per 100,000 requests).

Every load is ``--seconds`` long and the loads of a table take turns, ``--rounds`` times (medians); the tokens
live an hour so the whole run fits. ACE's tenants are put into its in-memory store from a file (its signed-install
check needs Atlassian's key server); Pledge's are installed through its tenant registry before the loads.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

import jwt

from bench import forge_auth
from bench.baseline import APP_PATH, BODY, HEADERS, PATH
from bench.connect_auth import APP_KEY, MINIMAL_EVENT, WEBHOOK
from bench.harness import (
    ROOT,
    BenchError,
    CpuPerRequest,
    LoadResult,
    PostgresUnreachable,
    Row,
    Served,
    interleave,
    postgres_schema,
    print_table,
    run_wrk,
    serve,
)
from bench.memory import MIB, TARGET_GROWTH_MIB_PER_100K
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.trust.qsh import query_string_hash

SECTIONS = ("public", "connect", "forge", "memory")
ACE_DIR = ROOT / "bench" / "ace"
PLEDGE_APP = "bench.connect_auth:bench_app"
PLEDGE_WEBHOOK = f"/apps/{APP_KEY}{WEBHOOK}"
TOKEN_LIFETIME_SECONDS = 3600
CONNECTIONS = 32  # run_wrk's default
FITS_PER_SECOND = 8_000  # FITs minted per second of FIT load: more than the FIT route answers here

PUBLIC_TARGET, ACE_TARGET, MANY_TARGET, FORGE_TARGET = 0.90, 3.0, 0.80, 2.0


@dataclass(frozen=True)
class Options:
    seconds: int = 3
    rounds: int = 3
    tenants: int = 10_000
    memory_seconds: int = 20
    sections: tuple[str, ...] = SECTIONS


def parse_options(argv: Sequence[str]) -> Options:
    """The command line of ``python -m bench serve``; a bad option exits with status 2 and says why."""
    parser = argparse.ArgumentParser(prog="python -m bench serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=Options.seconds, help="length of each load (1..60)")
    parser.add_argument("--rounds", type=int, default=Options.rounds, help="turns per table; medians are kept")
    parser.add_argument("--tenants", type=int, default=Options.tenants, help="installed tenants, many-tenant rows")
    parser.add_argument("--memory-seconds", type=int, default=Options.memory_seconds, help="the long memory load")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    parsed = parser.parse_args(list(argv))
    for name in ("seconds", "memory_seconds"):
        if not 1 <= getattr(parsed, name) <= 60:
            parser.error(f"--{name.replace('_', '-')} must be 1..60")
    if parsed.rounds < 1 or parsed.tenants < 1:
        parser.error("--rounds and --tenants must be at least 1")
    return Options(parsed.seconds, parsed.rounds, parsed.tenants, parsed.memory_seconds, tuple(parsed.only))


@dataclass(frozen=True)
class Target:
    what: str
    measured: float
    wanted: float
    at_most: bool = False

    def __str__(self) -> str:
        holds = self.measured <= self.wanted if self.at_most else self.measured >= self.wanted
        sign = "≤" if self.at_most else "≥"
        return f"{self.what}: {self.measured:.2f} (target {sign} {self.wanted:g}): {'holds' if holds else 'MISSED'}"


@dataclass(frozen=True)
class Site:
    client_key: str
    secret: str

    def token(self, path: str, context_path: str) -> str:
        now = int(time.time())
        qsh = query_string_hash("POST", path, context_path=context_path)
        claims = {"iss": self.client_key, "iat": now, "exp": now + TOKEN_LIFETIME_SECONDS, "qsh": qsh}
        return jwt.encode(claims, self.secret, algorithm="HS256")


def make_sites(count: int) -> list[Site]:
    return [Site(f"bench-site-{n:05d}", secrets.token_urlsafe(32)) for n in range(count)]


def install(sites: Sequence[Site], data_dir: Path, database_url: str | None) -> float:
    """Install ``sites`` into the server's database through the tenant registry; the seconds it took."""
    # Installing is set-up, not what is measured: on PostgreSQL it skips waiting for each commit's flush.
    fast = f"{database_url}%20-csynchronous_commit%3Doff" if database_url and "?options=" in database_url else None
    overrides: dict[str, Any] = {"database_url": fast or database_url} if database_url else {}
    runtime = Runtime.open(load_settings(data_dir=data_dir, **overrides))
    started = time.perf_counter()
    try:
        for n, site in enumerate(sites):
            tenant = runtime.tenants.create(
                app_key=APP_KEY, client_key=site.client_key, base_url=f"https://s{n}.atlassian.net", product_type="jira"
            )
            runtime.tenants.set_shared_secret(tenant.id, site.secret)
    finally:
        runtime.close()
    return time.perf_counter() - started


def preload(data_dir: Path, database_url: str | None) -> tuple[int, float]:
    """Load the server's tenant cache as ``pledge serve`` does at start, in this process: how many, in how long."""
    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    runtime = Runtime.open(load_settings(data_dir=data_dir, **overrides))
    try:
        started = time.perf_counter()
        loaded = runtime.connect_tenants.preload()
        return loaded, time.perf_counter() - started
    finally:
        runtime.close()


_TOKENS_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
local tokens = {{}}
for line in io.lines({path}) do tokens[#tokens + 1] = line end
math.randomseed(os.time())
local nth = {start}
request = function()
  {pick}
  wrk.headers["Authorization"] = "JWT " .. tokens[nth]
  return wrk.format()
end
"""
_RANDOM, _IN_TURN = "nth = math.random(#tokens)", "nth = nth % #tokens + 1"


class Tokens:
    """Pre-signed tokens for one server's webhook, one per site, in a file wrk's script reads."""

    def __init__(self, sites: Sequence[Site], path: str, context_path: str, scratch: Path) -> None:
        self.file = scratch / f"tokens-{secrets.token_hex(4)}.txt"
        self.file.write_text("\n".join(site.token(path, context_path) for site in sites) + "\n")
        self.one = {"Content-Type": "application/json", "Authorization": f"JWT {sites[0].token(path, context_path)}"}

    def load(self, url: str, duration: int, *, at_random: bool = True, start: int = 0) -> LoadResult:
        """Each request from a random site, or every site in turn from the ``start``-th; the minimal event."""
        pick = _RANDOM if at_random else _IN_TURN
        script = _TOKENS_SCRIPT.format(
            body=json.dumps(MINIMAL_EVENT), path=json.dumps(str(self.file)), pick=pick, start=start
        )
        return run_wrk(url, duration=duration, warmup=0, script=script)

    def load_one(self, url: str, duration: int) -> LoadResult:
        return run_wrk(url, method="POST", headers=self.one, body=MINIMAL_EVENT, duration=duration, warmup=0)


@contextmanager
def serve_ace(tenants_file: Path) -> Iterator[Served]:
    """ACE 11 + Express (bench/ace), its locked packages installed with ``npm ci --ignore-scripts``."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise BenchError("node and npm are needed for the ACE rows")
    if not (ACE_DIR / "node_modules" / "atlassian-connect-express").is_dir():
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=ACE_DIR,
            check=True,
            capture_output=True,
            timeout=600,
        )
    env = {"NODE_ENV": "production", "TENANTS_FILE": str(tenants_file)}
    with serve(
        "bench/ace/app.js",
        command=lambda port: [node, "app.js", str(port)],
        cwd=ACE_DIR,
        env=env,
        ready_path="/healthz",
    ) as served:
        yield served


def ace_tenants(sites: Sequence[Site], scratch: Path) -> Path:
    path = scratch / "ace-tenants.json"
    records = [
        {
            "key": APP_KEY,
            "clientKey": site.client_key,
            "sharedSecret": site.secret,
            "baseUrl": f"https://s{n}.atlassian.net",
            "productType": "jira",
            "eventType": "installed",
        }
        for n, site in enumerate(sites)
    ]
    path.write_text(json.dumps(records))
    return path


def _cpu_noted(rows: list[Row], recorders: dict[str, CpuPerRequest]) -> tuple[list[Row], dict[str, float]]:
    micros = {row.name: recorders[row.name].median_us(row.name) for row in rows}
    return [replace(row, note=f"{row.note}; server CPU {micros[row.name]:.0f} µs/request") for row in rows], micros


def public(options: Options) -> list[Target]:
    with (
        serve("bench.baseline:bare") as plain,
        serve("bench.baseline:app", server="pledge serve", ready_path="/healthz") as shipped,
    ):
        names = {
            "plain Starlette + uvicorn (no access log)": (plain, PATH),
            "pledge serve (as shipped)": (shipped, APP_PATH),
        }
        recorders = {name: CpuPerRequest(served) for name, (served, _) in names.items()}
        for served, path in names.values():
            run_wrk(served.url + path, method="POST", headers=HEADERS, body=BODY, duration=1, warmup=0)

        def load(url: str) -> Callable[[], LoadResult]:
            return lambda: run_wrk(url, method="POST", headers=HEADERS, body=BODY, duration=options.seconds, warmup=0)

        loads = {name: recorders[name](name, load(served.url + path)) for name, (served, path) in names.items()}
        rows, micros = _cpu_noted(interleave(loads, rounds=options.rounds), recorders)
    print_table(rows, title="== serve: public JSON route")
    plain_row, shipped_row = rows
    return [
        Target(
            "public route, pledge serve / plain by req/s", shipped_row.result.rps / plain_row.result.rps, PUBLIC_TARGET
        ),
        Target(
            "public route, pledge serve / plain by CPU",
            micros[plain_row.name] / micros[shipped_row.name],
            PUBLIC_TARGET,
        ),
    ]


@dataclass
class Memory:
    at_start: int = 0
    all_seen: int = 0
    before_long: int = 0
    loaded: int = 0
    long_requests: int = 0


def _see_every_site(served: Served, tokens: Tokens, count: int, seconds: int) -> None:
    """Send requests from every site in turn until each has been seen at least once: each wrk run goes on from where
    the last one's answers ended, less the requests that may have been in flight, unanswered, when it stopped."""
    answered = 0
    while answered < count:
        start = max(answered - CONNECTIONS, 0)
        answered = start + tokens.load(served.url + PLEDGE_WEBHOOK, seconds, at_random=False, start=start).requests


def cold_starts(
    starts: Mapping[str, Callable[[], AbstractContextManager[Served]]], tokens: Tokens, options: Options
) -> tuple[list[Row], dict[str, float]]:
    """The many-tenant load right after a restart of each server of ``starts``, in turn, ``options.rounds`` times:
    a row of each (its median round), and each one's median resident set once ready."""
    runs: dict[str, list[LoadResult]] = {name: [] for name in starts}
    cpu: dict[str, list[float]] = {name: [] for name in starts}
    ready: dict[str, list[float]] = {name: [] for name in starts}
    resident: dict[str, list[float]] = {name: [] for name in starts}
    for _ in range(options.rounds):
        for name, start in starts.items():
            started = time.perf_counter()
            with start() as restarted:
                ready[name].append(time.perf_counter() - started)
                resident[name].append(restarted.rss_bytes())
                before = restarted.cpu_seconds()
                result = tokens.load(restarted.url + PLEDGE_WEBHOOK, options.seconds)
                cpu[name].append((restarted.cpu_seconds() - before) / max(result.requests, 1) * 1e6)
                runs[name].append(result)
    rows = [
        Row(
            name,
            sorted(results, key=lambda run: run.rps)[len(results) // 2],
            f"median of {len(results)} restarts, ready {median(ready[name]):.1f} s after start; "
            f"server CPU {median(cpu[name]):.0f} µs/request",
        )
        for name, results in runs.items()
    ]
    return rows, {name: median(sizes) for name, sizes in resident.items()}


def connect(options: Options, scratch: Path) -> tuple[list[Target], Memory | None]:
    sites = make_sites(options.tenants)
    targets: list[Target] = []
    memory: Memory | None = None
    ace_many: dict[str, float] = {}
    with ExitStack() as stack:
        ace = stack.enter_context(serve_ace(ace_tenants(sites, scratch)))
        ace_tokens = Tokens(sites, WEBHOOK, "", scratch)
        pledge_tokens = Tokens(sites, PLEDGE_WEBHOOK, f"/apps/{APP_KEY}", scratch)
        for engine, database_url in engines(stack).items():
            data_dir = scratch / f"data-{engine}"
            env = {"PLEDGE_DATABASE_URL": database_url} if database_url else {}

            pledge_server = partial(
                serve, PLEDGE_APP, server="pledge serve", env=env, data_dir=data_dir, ready_path="/healthz"
            )

            with pledge_server() as served:
                seen = Memory(at_start=served.rss_bytes())
                seconds = install(sites, data_dir, database_url)
                loaded, preload_seconds = preload(data_dir, database_url)
                print(
                    f"\n{engine}: {len(sites):,} tenants installed in {seconds:.0f} s; {loaded:,} preloaded in "
                    f"{preload_seconds:.2f} s (in this process, as pledge serve does before it serves)"
                )
                _see_every_site(served, pledge_tokens, len(sites), options.seconds)
                seen.all_seen = served.rss_bytes()
                webhook = served.url + PLEDGE_WEBHOOK
                cpu, ace_cpu = CpuPerRequest(served), CpuPerRequest(ace)
                plan: dict[str, tuple[CpuPerRequest, Callable[[], LoadResult]]] = {
                    "pledge serve, one tenant": (cpu, partial(pledge_tokens.load_one, webhook, options.seconds)),
                    f"pledge serve, {len(sites):,} tenants": (
                        cpu,
                        partial(pledge_tokens.load, webhook, options.seconds),
                    ),
                }
                if not ace_many:
                    ace_url = ace.url + WEBHOOK
                    ace_tokens.load(ace_url, 1)
                    plan["ACE 11, one tenant"] = (ace_cpu, partial(ace_tokens.load_one, ace_url, options.seconds))
                    plan[f"ACE 11, {len(sites):,} tenants"] = (
                        ace_cpu,
                        partial(ace_tokens.load, ace_url, options.seconds),
                    )
                loads = {name: recorder(name, work) for name, (recorder, work) in plan.items()}
                rows, _ = _cpu_noted(interleave(loads, rounds=options.rounds), {name: plan[name][0] for name in plan})
                if engine == "SQLite" and "memory" in options.sections:
                    seen.before_long = served.rss_bytes()
                    long_load = pledge_tokens.load(webhook, options.memory_seconds)
                    seen.loaded, seen.long_requests = served.rss_bytes(), long_load.requests
                    memory = seen
            cold_name = f"pledge serve, {len(sites):,} tenants, cold"
            restarts = {
                cold_name: pledge_server,
                f"{cold_name}, preload off": partial(pledge_server, env=env | {"PLEDGE_TENANT_PRELOAD": "off"}),
            }
            cold_rows, at_ready = cold_starts(restarts, pledge_tokens, options)
            rows += cold_rows
            print_table(rows, title=f"== serve: Connect webhook, {engine}")
            preloaded, not_preloaded = at_ready.values()
            print(
                f"resident set once ready: {preloaded / MIB:.1f} MiB preloaded, {not_preloaded / MIB:.1f} MiB not: "
                f"{(preloaded - not_preloaded) / len(sites) / 1024:.1f} KiB per preloaded tenant"
            )
            by_name = {row.name: row.result.rps for row in rows}
            if not ace_many:
                ace_many = {"one": by_name["ACE 11, one tenant"], "many": by_name[f"ACE 11, {len(sites):,} tenants"]}
            one, many = by_name["pledge serve, one tenant"], by_name[f"pledge serve, {len(sites):,} tenants"]
            cold_rps = by_name[cold_name]
            targets += [
                Target(f"{engine}: one tenant, pledge serve / ACE", one / ace_many["one"], ACE_TARGET),
                Target(f"{engine}: many tenants / one tenant", many / one, MANY_TARGET),
                Target(f"{engine}: many tenants cold / one tenant", cold_rps / one, MANY_TARGET),
                Target(f"{engine}: many tenants, pledge serve / ACE", many / ace_many["many"], ACE_TARGET),
            ]
    return targets, memory


def engines(stack: ExitStack) -> dict[str, str | None]:
    """SQLite (each server's own file: None), then a fresh PostgreSQL schema (dropped when ``stack`` closes) when
    the server at 127.0.0.1:5432 can be used."""
    urls: dict[str, str | None] = {"SQLite": None}
    try:
        urls["PostgreSQL"] = stack.enter_context(postgres_schema())
    except PostgresUnreachable as exc:
        print(f"PostgreSQL rows left out: {exc}")
    return urls


def forge(options: Options) -> list[Target]:
    """The Forge table on SQLite, then on a fresh PostgreSQL schema when one can be had: every FIT's ``jti`` is
    recorded in the database, whose own work happens in this process on SQLite only."""
    tokens = FITS_PER_SECOND * (options.seconds * options.rounds + 2)
    targets: list[Target] = []
    with ExitStack() as stack:
        for engine, database_url in engines(stack).items():
            figures = forge_auth.measure(
                options.seconds, options.rounds, tokens, server="pledge serve", database_url=database_url
            )
            added = figures.fit_cpu_us - figures.bare_cpu_us
            bare, fit, static = figures.rows
            rows = [
                replace(bare, note=f"{bare.note}; server CPU {figures.bare_cpu_us:.0f} µs/request"),
                replace(
                    fit,
                    note=f"{fit.note}; server CPU {figures.fit_cpu_us:.0f} µs/request, {added:.0f} µs added; "
                    f"RSA-2048 check alone {figures.rsa_check_us:.0f} µs",
                ),
                static,
            ]
            title = f"== serve: Forge FIT route, {engine} ({tokens:,} FITs minted in {figures.minted_seconds:.0f} s)"
            print_table(rows, title=title)
            what = f"Forge, {engine}: FIT route's added CPU / RSA check alone"
            targets.append(Target(what, added / figures.rsa_check_us, FORGE_TARGET, True))
    return targets


def print_memory(memory: Memory, tenants: int, seconds: int) -> Target:
    growth = (memory.loaded - memory.before_long) / MIB / max(memory.long_requests, 1) * 100_000
    print("\n== serve: resident set of the SQLite pledge serve worker (MiB)")
    print(f"at start {memory.at_start / MIB:.1f}; after {tenants:,} tenants seen {memory.all_seen / MIB:.1f}; ", end="")
    print(f"after the tables {memory.before_long / MIB:.1f}; after {seconds} s more of load {memory.loaded / MIB:.1f}")
    per_tenant = (memory.all_seen - memory.at_start) / max(tenants, 1) / 1024
    print(f"{per_tenant:.1f} KiB per tenant seen; {memory.long_requests:,} requests in the long load")
    return Target("memory: MiB per 100,000 requests", growth, TARGET_GROWTH_MIB_PER_100K, True)


def main(argv: Sequence[str] = ()) -> None:
    options = parse_options(argv)
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="pledge-bench-serve-") as scratch:
        if "public" in options.sections:
            targets += public(options)
        if "connect" in options.sections or "memory" in options.sections:
            found, memory = connect(options, Path(scratch))
            targets += found
            if memory is not None:
                targets.append(print_memory(memory, options.tenants, options.memory_seconds))
        if "forge" in options.sections:
            targets += forge(options)
    print("\n== serve: targets")
    for target in targets:
        print(target)
