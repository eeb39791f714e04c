"""What Forge Remote authentication (S11) costs: a FIT-verified JSON POST route against the bare route, one host.

The FIT route does everything a Forge call gets in production: RS256 signature against the cached JWKS, claims,
``jti`` replay memory, tenant lookup by installationId, region pin and migration lock, license signal. Because every
``jti`` is accepted once, ``wrk`` cannot repeat one token: the FITs are minted before the run (by the simulated Forge
site, 2048-bit RSA) and a Lua script sends each once. They live 4 minutes instead of Forge's 25 s so that minting
can happen before the clock starts; verification costs the same. Target: the FIT route at ≥ 70 % of the bare route.

Run: ``.venv/bin/python -m bench forge_auth``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette

from bench.harness import BenchError, LoadResult, Row, parse_wrk, pledge_host, run_wrk, serve
from pledge.app import App, Auth, RequestContext
from pledge.forge import ForgeConfig
from pledge.sim.forge import ForgeSite

APP_ID = "ari:cloud:ecosystem::app/0b6f5a64-3f0e-4a57-8a43-6d1b2f3c9e10"
BODY = json.dumps({"issue": "PLG-1", "fields": {"summary": "Benchmark", "labels": ["a", "b", "c"]}, "n": 42})
DURATION, WARMUP, CONNECTIONS = 3, 1, 32
TOKENS = 12_000
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
            [*base, f"-d{duration}s", url], capture_output=True, text=True, timeout=60, check=False
        )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed: {completed.stderr.strip()[:300]}")
    result, non_2xx, errors = parse_wrk(completed.stdout)
    if single_use and result.requests + CONNECTIONS >= len(tokens):
        raise BenchError(f"{result.requests} requests used every one of {len(tokens)} FITs: raise TOKENS")
    if non_2xx or errors:
        raise BenchError(f"{url}: {non_2xx} non-2xx responses and {errors} socket errors under load")
    return result


def scenarios() -> list[Row]:
    site = ForgeSite(APP_ID)
    with site.serve():
        env = {"PLEDGE_FORGE_JWKS_URL": site.jwks_url, "PLEDGE_ATLASSIAN_API_URL": site.base_url}
        with serve("bench.forge_auth:create_app", factory=True, env=env, ready_path="/healthz") as served:
            installation = site.new_installation()
            attempts = asyncio.run(site.install(f"{served.url}{BASE}/forge/lifecycle/installed", installation))
            if attempts[-1].status != 200:
                raise BenchError(f"the installed trigger was refused: {attempts}")
            now = int(time.time())
            started = time.perf_counter()
            tokens = [
                site.mint_fit(installation, iat=now, nbf=now, exp=now + TOKEN_LIFETIME_SECONDS) for _ in range(TOKENS)
            ]
            minted = time.perf_counter() - started
            static = run_wrk(
                f"{served.url}{BASE}/bare",
                method="POST",
                headers={"Content-Type": "application/json"},
                body=BODY,
                duration=DURATION,
                warmup=WARMUP,
                connections=CONNECTIONS,
            )
            # The bare route gets the very requests the FIT route gets (a fresh FIT each, ignored there), so
            # both rows pay the same load-generator and header-parsing cost and differ only by verification.
            warm = len(tokens) * WARMUP // (WARMUP + DURATION)
            _load_with_fits(f"{served.url}{BASE}/bare", tokens[warm:], WARMUP, single_use=False)
            bare = _load_with_fits(f"{served.url}{BASE}/bare", tokens[warm:], DURATION, single_use=False)
            _load_with_fits(f"{served.url}{BASE}/echo", tokens[:warm], WARMUP)
            fit = _load_with_fits(f"{served.url}{BASE}/echo", tokens[warm:], DURATION)
    ratio = fit.rps / bare.rps if bare.rps else 0.0
    return [
        Row("bare route, same FIT-carrying requests", bare, "Auth.PUBLIC: the Authorization header is ignored"),
        Row("FIT route (Auth.FORGE)", fit, f"{ratio:.0%} of the row above (target 70 %)"),
        Row("bare route, static request", static, f"plain wrk request; {TOKENS} FITs minted in {minted:.0f} s"),
    ]
