"""An authenticated store round trip under concurrent load, on SQLite and PostgreSQL.

One Connect-authenticated route (JWT + exact QSH) writes one record and reads it back by id, loaded by ``wrk`` with
32 connections. Two routes, same work: the store awaited as handlers use it (``await context.store``, each call on a
worker thread, :mod:`pledge.store.async_store`) and the synchronous store called on the event loop (what handlers
did before: it stalls every other request while the database works). The difference is what the thread hop costs
under load, in requests/s and in server CPU per request. Each engine has its own server; the rows take turns.

    python -m bench store_roundtrip        (or: python bench/store_roundtrip.py)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import jwt
from starlette.applications import Starlette

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    CpuPerRequest,
    LoadResult,
    PostgresUnreachable,
    Row,
    Served,
    interleave,
    pledge_host,
    postgres_schema,
    print_table,
    run_wrk,
    serve,
)
from pledge.app import App, Auth, RequestContext
from pledge.config import load_settings
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field
from pledge.trust.qsh import query_string_hash

APP_KEY = "bench-store"
CLIENT_KEY = "bench-store-client-key"
SECRET = "bench-store-shared-secret-" + "0123456789" * 4
AWAITED = "/notes/awaited"
ON_THE_LOOP = "/notes/on-the-loop"
NOTE = {"issue": "SIM-1", "text": "The printer on the third floor is on fire."}

bench_app = App(
    key=APP_KEY,
    name="Store benchmark",
    data=DataManifest(
        (
            Collection(
                "notes",
                "Notes on issues",
                (
                    Field("issue", Category.CONFIGURATION, "The issue the note is on", indexed=True),
                    Field("text", Category.CONTENT, "The note"),
                ),
            ),
        )
    ),
)


@bench_app.route(AWAITED, auth=Auth.CONNECT, methods=("POST",))
async def awaited(context: RequestContext) -> dict[str, object]:
    store = context.store
    written = await store.create("notes", NOTE)
    return {"id": (await store.get("notes", written.id)).id}


@bench_app.route(ON_THE_LOOP, auth=Auth.CONNECT, methods=("POST",))
async def on_the_loop(context: RequestContext) -> dict[str, object]:
    assert context.app is not None
    store = context._services.store_for(context.app, context.tenant)  # deliberately blocking: the row it is compared to
    written = store.create("notes", NOTE)
    return {"id": store.get("notes", written.id).id}


def host() -> Starlette:
    """The server under test (a ``--factory`` target); its database is ``PLEDGE_DATABASE_URL`` or SQLite."""
    return pledge_host(bench_app)


def seed_tenant(served: Served, database_url: str | None) -> None:
    """Install the bench tenant in the server's database, sealed under the server's keyring."""
    runtime = Runtime.open(load_settings(data_dir=served.data_dir, database_url=database_url))
    try:
        tenant = runtime.tenants.create(
            app_key=APP_KEY, client_key=CLIENT_KEY, base_url="https://bench.atlassian.net", product_type="jira"
        )
        runtime.tenants.set_shared_secret(tenant.id, SECRET)
    finally:
        runtime.close()


def signed_headers(path: str) -> dict[str, str]:
    now = int(time.time())
    qsh = query_string_hash("POST", f"/apps/{APP_KEY}{path}", context_path=f"/apps/{APP_KEY}")
    # exp as the product issues it (3 minutes): the whole run fits well inside.
    token = jwt.encode({"iss": CLIENT_KEY, "iat": now, "exp": now + 180, "qsh": qsh}, SECRET, algorithm="HS256")
    return {"Content-Type": "application/json", "Authorization": f"JWT {token}"}


def scenarios(rounds: int = 3) -> list[Row]:
    """A server per engine up first, then the loads take turns, round after round."""
    with ExitStack() as stack:
        databases: dict[str, str | None] = {"SQLite": None}
        try:
            databases["PostgreSQL"] = stack.enter_context(postgres_schema())
        except PostgresUnreachable as exc:
            print(f"PostgreSQL skipped: {exc}")
        served = {
            engine: stack.enter_context(
                serve(
                    "bench.store_roundtrip:host",
                    factory=True,
                    ready_path="/healthz",
                    env={"PLEDGE_DATABASE_URL": url} if url else None,
                )
            )
            for engine, url in databases.items()
        }
        return _measure(served, databases, rounds)


def _measure(served: dict[str, Served], databases: dict[str, str | None], rounds: int) -> list[Row]:
    recorders = {engine: CpuPerRequest(server) for engine, server in served.items()}
    plan: dict[str, tuple[CpuPerRequest, Callable[[], LoadResult]]] = {}
    for engine, server in served.items():
        seed_tenant(server, databases[engine])
        for label, path in (("awaited store", AWAITED), ("sync store on the loop", ON_THE_LOOP)):
            url, headers = f"{server.url}/apps/{APP_KEY}{path}", signed_headers(path)
            # Warm up outside the measured loads: CPU per request counts everything between their start and end.
            run_wrk(url, method="POST", headers=headers, body="{}", duration=1, warmup=0)
            load = _load(url, headers)
            plan[f"{engine}: write + read, {label}"] = (recorders[engine], load)
    rows = interleave({name: recorder(name, load) for name, (recorder, load) in plan.items()}, rounds=rounds)
    return [
        replace(row, note=f"{row.note}; server CPU {plan[row.name][0].median_us(row.name):.0f} µs/request")
        for row in rows
    ]


def _load(url: str, headers: dict[str, str]) -> Callable[[], LoadResult]:
    return lambda: run_wrk(url, method="POST", headers=headers, body="{}", duration=3, warmup=0)


if __name__ == "__main__":
    print_table(scenarios(), title="Authenticated store round trip (write + read by id), 32 connections")
