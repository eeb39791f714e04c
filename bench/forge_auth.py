"""What Forge Remote authentication (S11) costs: a FIT-verified JSON POST route against the bare route, one host.

The FIT route does everything a Forge call gets in production: RS256 signature against the cached JWKS, claims,
``jti`` replay memory, tenant resolution by installationId (cached for a second), region pin and migration lock,
license signal. Because every ``jti`` is accepted once, ``wrk`` cannot repeat one token: the FITs are minted before
the run (by the simulated Forge site, 2048-bit RSA) and a Lua script sends each once. They live 4 minutes instead of
Forge's 25 s so that minting can happen before the clock starts; verification costs the same. The bare route gets
the very same requests. Rows are interleaved, median of 3; besides requests/s each row gives the server's CPU time
per request (read from /proc), the steadier figure on a shared machine. Target: FIT ≥ 70 % of bare.

Run: ``.venv/bin/python -m bench forge_auth``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode
from starlette.applications import Starlette

from bench.harness import (
    LOAD_CPU,
    BenchError,
    CpuPerRequest,
    LoadResult,
    Row,
    Server,
    interleave,
    parse_wrk,
    pinned,
    pledge_host,
    run_wrk,
    serve,
)
from pledge.app import App, Auth, RequestContext
from pledge.forge import ForgeConfig
from pledge.sim.forge_site import ForgeSite

APP_ID = "ari:cloud:ecosystem::app/0b6f5a64-3f0e-4a57-8a43-6d1b2f3c9e10"
BODY = json.dumps({"issue": "PLG-1", "fields": {"summary": "Benchmark", "labels": ["a", "b", "c"]}, "n": 42})
DURATION, WARMUP, CONNECTIONS, ROUNDS = 2, 1, 32, 3
TOKENS = 100_000  # a FIT is good once: enough for about 8,000 FIT requests/s over the whole run
TOKEN_LIFETIME_SECONDS = 240
BASE = "/apps/bench-forge"

app = App(key="bench-forge", name="Forge benchmark", forge=ForgeConfig(app_id=APP_ID))


async def _echo(context: RequestContext) -> dict[str, object]:
    payload = await context.request.json()
    return {"received": sorted(payload)}


app.route("/echo", auth=Auth.FORGE, methods=("POST",))(_echo)
app.route("/bare", auth=Auth.PUBLIC, methods=("POST",))(_echo)


def create_app() -> Starlette:
    return pledge_host(app)


_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
local tokens = {{}}
for line in io.lines({path}) do tokens[#tokens + 1] = line end
local next_token = 0
request = function()
  next_token = next_token % #tokens + 1  -- wraps only on the bare route; the FIT route checks it never does
  local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[next_token]}}
  return wrk.format(nil, nil, headers)
end
"""


def _load_with_fits(url: str, tokens: list[str], duration: int, *, single_use: bool = True) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: run scripts/system-deps (as root) or apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="pledge-bench-fit-") as scratch:
        token_file, script = Path(scratch) / "fits.txt", Path(scratch) / "fits.lua"
        token_file.write_text("\n".join(tokens) + "\n")
        script.write_text(_SCRIPT.format(body=json.dumps(BODY), path=json.dumps(str(token_file))))
        base = [wrk, "-t1", f"-c{CONNECTIONS}", "-s", str(script), "--latency", "--timeout", "5s"]
        completed = subprocess.run(
            [*base, f"-d{duration}s", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=pinned(LOAD_CPU),
        )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed: {completed.stderr.strip()[:300]}")
    result, non_2xx, errors = parse_wrk(completed.stdout)
    if single_use and result.requests + CONNECTIONS >= len(tokens):
        raise BenchError(f"{result.requests} requests used every one of {len(tokens)} FITs: raise TOKENS")
    if non_2xx or errors:
        raise BenchError(f"{url}: {non_2xx} non-2xx responses and {errors} socket errors under load")
    return result


class _Fits:
    """The minted FITs, handed out in order: each is good once, so a load run takes the ones after the last run's."""

    def __init__(self, tokens: list[str]) -> None:
        self._tokens = tokens
        self._next = 0

    def load(self, url: str, duration: int) -> LoadResult:
        result = _load_with_fits(url, self._tokens[self._next :], duration)
        # wrk sends them in order; at most one per connection was in flight, unanswered, when it stopped.
        self._next += result.requests + CONNECTIONS
        return result


@dataclass(frozen=True)
class ForgeFigures:
    """The three rows, the server's median CPU per request on the bare and FIT routes, and what one RSA-2048
    signature check of a minted FIT costs alone in this process (the floor the FIT route's added cost is read
    against)."""

    rows: list[Row]
    bare_cpu_us: float
    fit_cpu_us: float
    rsa_check_us: float
    minted_seconds: float


def scenarios() -> list[Row]:
    figures = measure()
    bare, fit, static = figures.rows
    bare_cpu, fit_cpu = figures.bare_cpu_us, figures.fit_cpu_us
    return [
        replace(bare, note=f"{bare.note}; server CPU {bare_cpu:.0f} µs/request; Authorization header ignored"),
        replace(
            fit,
            note=f"{fit.note}; server CPU {fit_cpu:.0f} µs/request; {fit.result.rps / bare.result.rps:.0%} of the "
            f"row above by req/s, {bare_cpu / fit_cpu:.0%} by CPU (target 70 %)",
        ),
        replace(static, note=f"{static.note}; {TOKENS} FITs minted in {figures.minted_seconds:.0f} s"),
    ]


def rsa_check_us(site: ForgeSite, token: str, repeat: int = 2000) -> float:
    """One RS256 signature check of ``token`` against the site's public key, alone, in µs (median of 5 batches)."""
    key = RSAAlgorithm.from_jwk(site.public_jwk())
    if not isinstance(key, RSAPublicKey):
        raise BenchError("the simulated site's JWK is not an RSA public key")
    signing_input, _, signature = token.encode().rpartition(b".")
    raw = base64url_decode(signature)
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            key.verify(raw, signing_input, padding.PKCS1v15(), hashes.SHA256())
        batches.append((time.perf_counter() - started) / repeat * 1e6)
    return sorted(batches)[2]


def measure(
    duration: int = DURATION,
    rounds: int = ROUNDS,
    token_count: int = TOKENS,
    *,
    server: Server = "uvicorn",
    database_url: str | None = None,
) -> ForgeFigures:
    """The bare and FIT routes of one server, interleaved; ``token_count`` FITs must outlast every FIT load.

    ``server="pledge serve"`` runs the real command (access log, its event loop) instead of the host under uvicorn;
    ``database_url`` puts its database elsewhere than SQLite in its data directory.
    """
    site = ForgeSite(APP_ID)
    with site.serve():
        env = site.pledge_environment() | ({"PLEDGE_DATABASE_URL": database_url} if database_url else {})
        shipped = server == "pledge serve"
        target = "bench.forge_auth:app" if shipped else "bench.forge_auth:create_app"
        with serve(target, factory=not shipped, server=server, env=env, ready_path="/healthz") as served:
            installation = site.new_installation()
            attempts = asyncio.run(site.install(f"{served.url}{BASE}/forge/lifecycle/installed", installation))
            if attempts[-1].status != 200:
                raise BenchError(f"the installed trigger was refused: {attempts}")
            now = int(time.time())
            started = time.perf_counter()
            tokens = [
                site.mint_fit(installation, iat=now, nbf=now, exp=now + TOKEN_LIFETIME_SECONDS)
                for _ in range(token_count)
            ]
            minted = time.perf_counter() - started
            bare_url, fit_url = f"{served.url}{BASE}/bare", f"{served.url}{BASE}/echo"
            fits = _Fits(tokens)
            fits.load(fit_url, WARMUP)
            _load_with_fits(bare_url, tokens, WARMUP, single_use=False)
            cpu = CpuPerRequest(served)
            names = ("bare route, same FIT-carrying requests", "FIT route (Auth.FORGE)", "bare route, static request")
            # The bare route gets the very requests the FIT route gets (a FIT each, ignored there), so both rows
            # pay the same load-generator and header-parsing cost and differ only by what verification costs.
            rows = interleave(
                {
                    names[0]: cpu(names[0], lambda: _load_with_fits(bare_url, tokens, duration, single_use=False)),
                    names[1]: cpu(names[1], lambda: fits.load(fit_url, duration)),
                    names[2]: cpu(
                        names[2],
                        lambda: run_wrk(
                            bare_url,
                            method="POST",
                            headers={"Content-Type": "application/json"},
                            body=BODY,
                            duration=duration,
                            warmup=0,
                            connections=CONNECTIONS,
                        ),
                    ),
                },
                rounds=rounds,
            )
            rsa_us = rsa_check_us(site, tokens[-1])
    static = rows[2]
    rows[2] = replace(static, note=f"{static.note}; server CPU {cpu.median_us(names[2]):.0f} µs/request")
    return ForgeFigures(rows, cpu.median_us(names[0]), cpu.median_us(names[1]), rsa_us, minted)
