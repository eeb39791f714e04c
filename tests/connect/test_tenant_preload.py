"""A starting host loads every active Connect tenant before it serves: a restart does not send each site's first
request to the database, and nothing a tenant left behind (uninstall, deletion, shredded keys) comes back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import Engine, event, text
from starlette.responses import Response
from starlette.testclient import TestClient

from pledge.app import App, RequestContext
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.tenants import Tenant, TenantState
from pledge.tenants.timeline import DeletionCause
from pledge.trust.qsh import query_string_hash
from pledge.trust.tenant_cache import ConnectTenantCache

APP_KEY = "preloaded"
WEBHOOK = "/webhooks/jira-issue-updated"
URL = f"/apps/{APP_KEY}{WEBHOOK}"

app = App(key=APP_KEY, name="Preloaded")


@app.webhook("jira:issue_updated")
async def updated(context: RequestContext) -> Response:
    await context.json()
    return Response(status_code=204)


def secret_of(client_key: str) -> str:
    return f"the shared secret of the site {client_key}"


def install(runtime: Runtime, client_key: str) -> Tenant:
    tenant = runtime.tenants.create(
        app_key=APP_KEY, client_key=client_key, base_url=f"https://{client_key}.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(tenant.id, secret_of(client_key))
    return tenant


def webhook(client: TestClient, client_key: str) -> str:
    """``answered``, or the reason code of the refusal."""
    now = int(client.app.state.runtime.clock.timestamp())
    claims = {"iss": client_key, "iat": now, "exp": now + 60, "qsh": query_string_hash("POST", WEBHOOK)}
    token = jwt.encode(claims, secret_of(client_key), algorithm="HS256")
    response = client.post(URL, json={"issue": {"key": "SIM-1"}}, headers={"Authorization": f"JWT {token}"})
    return "answered" if response.status_code == 204 else str(response.json()["error"])


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL run on ``engine`` inside the block, but the tenant changes poll's (it runs on its own timer)."""
    seen: list[str] = []

    def record(*args: object) -> None:
        if "tenant_changes" not in str(args[2]):
            seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_after_start_an_active_tenant_is_verified_without_a_query_and_the_departed_are_not_loaded(
    runtime: Runtime,
) -> None:
    for client_key in ("active", "enabled", "disabled", "uninstalled", "deleting", "shredded"):
        install(runtime, client_key)
    tenants = {tenant.client_key: tenant.id for tenant in runtime.tenants.list()}
    runtime.tenants.transition(tenants["enabled"], TenantState.ENABLED)
    runtime.tenants.transition(tenants["disabled"], TenantState.DISABLED)
    runtime.tenants.transition(tenants["uninstalled"], TenantState.UNINSTALLED)
    runtime.tenants.request_deletion(tenants["deleting"], DeletionCause.REQUEST)
    runtime.vault.shred(tenants["shredded"])  # keys destroyed, row still there: a purge stopped between its steps

    with TestClient(create_host(runtime, [app])) as client:
        with statements(runtime.engine) as during_requests:
            assert webhook(client, "active") == webhook(client, "enabled") == "answered"
        assert during_requests == []
        cache = runtime.connect_tenants
        assert len(cache) == 2
        for departed in ("disabled", "uninstalled", "deleting", "shredded"):
            assert cache.get(APP_KEY, departed) is None
        # Not preloaded is not refused for it: the request reads the tenant, as before, and is answered by its state.
        assert webhook(client, "disabled") == "tenant_inactive"
        assert webhook(client, "shredded") == "signature_invalid"


@pytest.fixture
def without_preload(tmp_path: Path, database_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Runtime]:
    settings = load_settings(data_dir=tmp_path / "data", database_url=database_url, tenant_preload=False)
    opened = Runtime.open(settings, clock=clock, engine=engine)
    yield opened
    opened.close()


def test_with_the_preload_off_the_first_request_of_a_site_reads_it(without_preload: Runtime) -> None:
    runtime = without_preload
    install(runtime, "active")
    with TestClient(create_host(runtime, [app])) as client:
        assert len(runtime.connect_tenants) == 0
        with statements(runtime.engine) as during_request:
            assert webhook(client, "active") == "answered"
        assert any("client_key" in statement for statement in during_request)


def test_preloaded_entries_expire_spread_over_the_ttl_and_leave_memory_at_the_sweep(
    runtime: Runtime, clock: FrozenClock
) -> None:
    for n in range(4):
        install(runtime, f"site-{n}")
    cache = ConnectTenantCache(runtime.tenants, ttl_seconds=8, monotonic=clock.timestamp)
    assert cache.preload() == 4
    held = [len(cache)]
    for _ in range(4):
        clock.advance(timedelta(seconds=2))
        cache.sweep()
        held.append(len(cache))
    assert held == [4, 3, 2, 1, 0]  # never all read again at once: about one TTL-th of them each moment


def test_a_change_landing_while_the_preload_reads_is_forgotten_at_the_next_poll(runtime: Runtime) -> None:
    tenant = install(runtime, "rotated")
    registry = runtime.tenants
    read = registry.active_connect_installations

    def rotated_meanwhile(limit: int) -> object:
        loaded = read(limit)
        registry.set_shared_secret(tenant.id, "the rotated secret")  # another instance, before the entries are put
        return loaded

    registry.active_connect_installations = rotated_meanwhile  # type: ignore[assignment,method-assign]
    watcher = runtime.tenant_changes
    assert watcher.poll() == 0
    stale = runtime.connect_tenants.get(APP_KEY, "rotated")
    assert stale is not None and stale.shared_secret == secret_of("rotated")
    assert watcher.poll() == 1
    assert runtime.connect_tenants.get(APP_KEY, "rotated") is None


def test_a_preload_the_database_fails_is_one_line_and_the_cache_fills_as_requests_come(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    install(runtime, "active")
    with runtime.engine.begin() as connection:
        connection.execute(text("ALTER TABLE data_keys RENAME TO data_keys_away"))
    try:
        with caplog.at_level(logging.WARNING, logger="pledge.trust.tenant_changes"):
            assert runtime.tenant_changes.poll() == 0
        assert [record.getMessage().split(":")[0] for record in caplog.records] == ["tenant cache"]
        assert len(runtime.connect_tenants) == 0
    finally:
        with runtime.engine.begin() as connection:
            connection.execute(text("ALTER TABLE data_keys_away RENAME TO data_keys"))
    loaded = runtime.connect_tenants.load(APP_KEY, "active")
    assert loaded is not None
    runtime.tenants.transition(loaded.tenant.id, TenantState.DISABLED)
    assert runtime.tenant_changes.poll() == 1  # started: the changes of other instances are still forgotten
    assert runtime.connect_tenants.get(APP_KEY, "active") is None
