"""Handlers await the store: a call waiting on the database never stalls the other requests of the process."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import NullPool

from pledge.app import App, Auth, RequestContext
from pledge.clock import FrozenClock
from pledge.db import open_engine
from pledge.host import create_host
from pledge.mounts import app_base_path
from pledge.runtime import Runtime
from pledge.store import (
    AsyncTenantStore,
    InvalidValue,
    PersonalDataRefused,
    Record,
    RecordNotFound,
    TenantStore,
    UndeclaredData,
)
from pledge.store.async_store import UNPOOLED_THREADS, store_threads
from pledge.tenants import Tenant
from pledge.trust.qsh import query_string_hash

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
RULE = {"name": "Bugs to the on-call", "project": "OPS", "body": "Issue {key} changed"}
# Far below SQLite's busy timeout (pledge.db, 10 s): an answer within it did not wait for the locked write.
PROMPT_SECONDS = 5.0


@pytest.fixture
def async_store(runtime: Runtime, store: TenantStore) -> AsyncTenantStore:
    return AsyncTenantStore(store, runtime.store_threads)


# --- the event loop keeps serving while a write waits for a lock -----------------------------------------------


def _secret(tenant: Tenant) -> str:
    return f"shared-secret-of-{tenant.id}-" + "0" * 32


def _signed(runtime: Runtime, tenant: Tenant, method: str, path: str) -> dict[str, str]:
    base = app_base_path(tenant.app_key)
    now = int(runtime.clock.timestamp())
    claims = {
        "iss": tenant.client_key,
        "iat": now,
        "exp": now + 180,
        "qsh": query_string_hash(method, path, context_path=base),
    }
    return {"Authorization": "JWT " + jwt.encode(claims, _secret(tenant), algorithm="HS256")}


@SQLITE_ONLY
async def test_a_write_waiting_for_the_database_lock_does_not_stall_other_requests(
    runtime: Runtime, mailer: App, tenant: Tenant, other_tenant: Tenant
) -> None:
    waiting = anyio.Event()

    @mailer.route("/rules", auth=Auth.CONNECT, methods=("POST",))
    async def add_rule(context: RequestContext) -> dict[str, str]:
        waiting.set()
        return {"id": (await context.store.create("rules", RULE)).id}

    @mailer.route("/rules", auth=Auth.CONNECT)
    async def count_rules(context: RequestContext) -> dict[str, int]:
        return {"rules": await context.store.count("rules"), "listed": len(await context.store.list("rules"))}

    for installed in (tenant, other_tenant):
        runtime.tenants.set_shared_secret(installed.id, _secret(installed))
    runtime.store_for(mailer, other_tenant).create("rules", RULE)  # B's data key exists: B's request only reads
    path = runtime.engine.url.database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        transport = httpx.ASGITransport(create_host(runtime, [mailer]))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://pledge.test") as client,
            anyio.create_task_group() as tasks,
        ):
            written: list[httpx.Response] = []

            async def write_for_a() -> None:
                headers = _signed(runtime, tenant, "POST", "/apps/mailer/rules")
                written.append(await client.post("/apps/mailer/rules", headers=headers, json={}))

            tasks.start_soon(write_for_a)
            with anyio.fail_after(PROMPT_SECONDS):
                await waiting.wait()
            with anyio.fail_after(PROMPT_SECONDS):
                alive = await client.get("/healthz")
                read = await client.get(
                    "/apps/mailer/rules", headers=_signed(runtime, other_tenant, "GET", "/apps/mailer/rules")
                )
            assert alive.status_code == 200
            assert read.status_code == 200 and read.json() == {"rules": 1, "listed": 1}
            assert not written, "tenant A's write finished while the database was still locked"
            holder.execute("ROLLBACK")
        # Leaving the task group waited for A's write, which the released lock let through.
    finally:
        holder.close()
    (response,) = written
    assert response.status_code == 200
    assert runtime.store_for(mailer, tenant).get("rules", response.json()["id"]).values == RULE


# --- the async API answers exactly what the synchronous one does -----------------------------------------------


async def test_every_call_returns_what_the_synchronous_store_returns(
    async_store: AsyncTenantStore, store: TenantStore, clock: FrozenClock
) -> None:
    created = await async_store.create("rules", RULE)
    assert await async_store.get("rules", created.id) == store.get("rules", created.id) == created
    clock.advance(timedelta(seconds=5))
    updated = await async_store.update("rules", created.id, {"project": "DEV"})
    assert updated == store.get("rules", created.id)
    assert updated.values == RULE | {"project": "DEV"} and updated.updated_at == clock.now()
    second = store.create("rules", {"name": "second", "project": "DEV"})
    for where in (None, {"project": "DEV"}, {"project": "OPS"}):
        assert await async_store.list("rules", where=where) == store.list("rules", where=where)
        assert await async_store.count("rules", where=where) == store.count("rules", where=where)
    assert await async_store.list("rules", limit=1, after=created.id) == store.list("rules", limit=1, after=created.id)
    assert [r.id for r in await async_store.list("rules")] == [created.id, second.id]
    await async_store.delete("rules", created.id)
    assert await async_store.count("rules") == store.count("rules") == 1
    assert (async_store.tenant_id, async_store.app_key) == (store.tenant_id, store.app_key)


_REFUSED: list[tuple[str, Callable[[Any], Any], type[Exception]]] = [
    ("undeclared collection", lambda s: s.create("notes", {"text": "x"}), UndeclaredData),
    ("undeclared field", lambda s: s.create("rules", {"colour": "red"}), UndeclaredData),
    ("personal data", lambda s: s.create("rules", {"body": "mail oncall@example.com"}), PersonalDataRefused),
    ("filter not indexed", lambda s: s.list("rules", where={"body": "x"}), InvalidValue),
    ("limit", lambda s: s.list("rules", limit=0), InvalidValue),
    ("unknown id", lambda s: s.get("rules", "0" * 32), RecordNotFound),
    ("unknown id, delete", lambda s: s.delete("rules", "0" * 32), RecordNotFound),
    ("unknown id, update", lambda s: s.update("rules", "0" * 32, {"name": "x"}), RecordNotFound),
]


@pytest.mark.parametrize(("case", "call", "error"), _REFUSED, ids=[case for case, _, _ in _REFUSED])
async def test_refusals_raise_the_same_error_with_the_same_message(
    async_store: AsyncTenantStore, store: TenantStore, case: str, call: Callable[[Any], Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as synchronous:
        call(store)
    with pytest.raises(error) as awaited:
        await call(async_store)
    assert str(awaited.value) == str(synchronous.value)
    assert await async_store.count("rules") == 0


_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20))


@given(st.lists(st.fixed_dictionaries({}, optional={"name": _VALUE, "project": _VALUE, "body": _VALUE}), max_size=4))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_whatever_is_written_reads_back_alike_through_both_apis(
    async_store: AsyncTenantStore, store: TenantStore, rules: list[dict[str, Any]]
) -> None:
    async def round_trip() -> None:
        # Each example runs on a fresh event loop: the runtime's threads serve one loop after another.
        for values in rules:
            try:
                created: Record | None = await async_store.create("rules", values)
            except PersonalDataRefused:
                created = None
            if created is not None:
                assert await async_store.get("rules", created.id) == store.get("rules", created.id) == created
        assert await async_store.list("rules", limit=1000) == store.list("rules", limit=1000)

    anyio.run(round_trip)


@pytest.mark.parametrize(("options", "expected"), [({"pool_size": 3}, 3), ({"poolclass": NullPool}, UNPOOLED_THREADS)])
def test_store_calls_run_on_as_many_threads_as_the_pool_keeps_connections(
    database_url: str, options: dict[str, Any], expected: int
) -> None:
    engine = open_engine(database_url, **options)
    threads = store_threads(engine)
    # Each call waits until `expected` of them run at once: fewer threads would never get there (timeout).
    together = threading.Barrier(expected, timeout=10)

    def meet() -> str:
        together.wait()
        return threading.current_thread().name

    try:
        calls = [threads.submit(meet) for _ in range(2 * expected)]
        assert len({call.result(timeout=10) for call in calls}) == expected
    finally:
        threads.shutdown()
        engine.dispose()


async def test_context_store_is_the_async_store_of_the_verified_tenant(
    runtime: Runtime, mailer: App, tenant: Tenant
) -> None:
    seen: list[object] = []

    @mailer.route("/probe", auth=Auth.CONNECT)
    async def probe(context: RequestContext) -> dict[str, str]:
        seen.append(context.store)
        return {"tenant": context.store.tenant_id}

    runtime.tenants.set_shared_secret(tenant.id, _secret(tenant))
    transport = httpx.ASGITransport(create_host(runtime, [mailer]))
    async with httpx.AsyncClient(transport=transport, base_url="http://pledge.test") as client:
        answer = await client.get("/apps/mailer/probe", headers=_signed(runtime, tenant, "GET", "/apps/mailer/probe"))
    assert answer.json() == {"tenant": tenant.id}
    assert isinstance(seen[0], AsyncTenantStore)
