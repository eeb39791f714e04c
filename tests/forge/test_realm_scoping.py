"""Realm-migration hooks act only on the calling installation's migrations, and a failed migration is recoverable.

One deployment (US) on SQLite and PostgreSQL; the EU deployment it hands tenants to is a stand-in that answers each
peer step as a test tells it to, or does not answer at all.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import orjson
import pytest
from examples.forge_notes.app import app
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import select
from tests.forge.conftest import BASE

from pledge.config import Settings, load_settings
from pledge.egress import OutboundClient
from pledge.forge import realm
from pledge.forge.installations import forge_installations_table
from pledge.forge.migration import realm_migrations_table, transfer_seal
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.sim.forge_site import ForgeSite, Installation

PEER = "http://eu.test"
HOOKS = f"{BASE}/forge/realm"
STEPS = ("schedule", "start", "status", "commit", "rollback")


@dataclass
class Peer:
    """The EU deployment as the source sees it: each step answered with ``answers[step]`` (200), or no answer."""

    answers: dict[str, int] = field(default_factory=dict)
    down: bool = False
    received: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        step = request.url.path.rsplit("/", 1)[-1]
        self.received.append((step, request.headers["x-pledge-migration"]))
        return httpx.Response(self.answers.get(step, 200), json={"status": "READY"})


class _Regions(httpx.AsyncBaseTransport):
    """Egress: the peer's origin to the stand-in, everything else to the simulated Forge site."""

    def __init__(self, site: httpx.AsyncBaseTransport, peer: Peer) -> None:
        self._site = site
        self._peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if f"{request.url.scheme}://{request.url.host}" == PEER:
            return self._peer.handle(request)
        return await self._site.handle_async_request(request)


@dataclass
class Hooks:
    """Forge calling the migration hooks of the Pledge host, with the FIT of one installation."""

    site: ForgeSite
    host: httpx.AsyncBaseTransport

    async def call(
        self, installation: Installation, step: str, body: Any = None, *, content: bytes | None = None
    ) -> httpx.Response:
        fit = self.site.mint_fit(
            installation, module_type="migration:dataResidency", module_key="pledge-realm-migration"
        )
        headers = {"authorization": f"Bearer {fit}"}
        async with httpx.AsyncClient(transport=self.host, base_url=HOOKS) as client:
            if step == "status":
                params = {name: v if isinstance(v, str) else orjson.dumps(v).decode() for name, v in body.items()}
                return await client.get("/status", params=params, headers=headers)
            sent = content if content is not None else orjson.dumps(body)
            return await client.post(f"/{step}", content=sent, headers=headers)

    async def install(self, text: str) -> Installation:
        installation = self.site.new_installation()
        await self.site.install(f"{BASE}/forge/lifecycle/installed", installation)
        added = await self.site.invoke_remote(
            f"{BASE}/notes", installation, {"issueKey": "SIM-1", "text": text}, principal="u-1"
        )
        assert added.status_code == 200, added.text
        return installation

    async def notes(self, installation: Installation) -> httpx.Response:
        return await self.site.invoke_remote(f"{BASE}/notes", installation, method="GET", principal="u-1")


@pytest.fixture
def settings(tmp_path: Path, database_url: str, site: ForgeSite) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        forge_jwks_url=site.jwks_url,
        atlassian_api_url=site.base_url,
        forge_peers={"EU": PEER},
        forge_transfer_key=base64.b64encode(bytes(range(32))).decode(),
    )


@pytest.fixture
def peer() -> Peer:
    return Peer()


@pytest.fixture
async def hooks(runtime: Runtime, site: ForgeSite, peer: Peer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hooks]:
    # The transfer waits for every instance's cached resolution to expire; a single in-process instance need not.
    monkeypatch.setattr(realm, "RESOLUTION_TTL", timedelta(0))
    settings = runtime.settings
    runtime.egress = OutboundClient(
        [settings.forge_jwks_url, settings.atlassian_api_url, PEER],
        transport=_Regions(httpx.ASGITransport(site.asgi), peer),
    )
    host = httpx.ASGITransport(create_host(runtime, [app]))
    site._transport = host
    yield Hooks(site, host)
    await runtime.egress.aclose()


def _state_of(runtime: Runtime, installation: Installation) -> tuple[list[Any], list[Any]]:
    """The installation's migration rows and its migration lock, as the database holds them."""
    tenant = runtime.tenants.by_installation_id(app.key, installation.installation_id)
    with runtime.engine.connect() as connection:
        migrations = connection.execute(
            select(realm_migrations_table).where(realm_migrations_table.c.tenant_id == tenant.id)
        ).all()
        lock = connection.execute(
            select(forge_installations_table.c.migration_id).where(forge_installations_table.c.tenant_id == tenant.id)
        ).all()
    return [tuple(row) for row in migrations], [tuple(row) for row in lock]


async def _migrate(hooks: Hooks, installation: Installation, migration_id: str) -> str:
    scheduled = await hooks.call(installation, "schedule", {"migrationId": migration_id, "targetRealm": "EU"})
    assert scheduled.json()["status"] == "SCHEDULED", scheduled.text
    started = await hooks.call(installation, "start", {"migrationId": migration_id})
    assert started.status_code == 200, started.text
    status = await hooks.call(installation, "status", {"migrationId": migration_id})
    return str(status.json()["status"])


def _body(step: str, migration_id: object) -> dict[str, object]:
    if step == "schedule":
        return {"migrationId": migration_id, "targetRealm": "EU"}
    return {"migrationId": migration_id}


@pytest.mark.parametrize("a_state", ["SCHEDULED", "READY"])
@pytest.mark.parametrize("step", STEPS)
async def test_another_installations_migration_id_is_answered_like_an_unknown_one(
    hooks: Hooks, runtime: Runtime, peer: Peer, step: str, a_state: str
) -> None:
    a, b = await hooks.install("a's note"), await hooks.install("b's note")
    if a_state == "READY":
        assert await _migrate(hooks, a, "m-a") == "READY"
    else:
        await hooks.call(a, "schedule", _body("schedule", "m-a"))
    before, sent = _state_of(runtime, a), list(peer.received)

    theirs = await hooks.call(b, step, _body(step, "m-a"))

    assert _state_of(runtime, a) == before
    assert peer.received == sent
    body = theirs.json()
    assert set(body) == {"error", "message"} and "m-a" not in theirs.text and a_state not in theirs.text
    if step == "schedule":
        assert (theirs.status_code, body["error"]) == (409, "migration_id_taken")
    else:
        unknown = await hooks.call(b, step, _body(step, "m-never-scheduled"))
        assert (theirs.status_code, body) == (unknown.status_code, unknown.json())
        assert (theirs.status_code, body["error"]) == (404, "migration_unknown")
    # B was served as ever; A's migration goes on as if B had never called.
    assert (await hooks.notes(b)).json() == {"notes": [{"issueKey": "SIM-1", "text": "b's note"}]}
    if a_state == "SCHEDULED":
        await hooks.call(a, "start", {"migrationId": "m-a"})
    committed = await hooks.call(a, "commit", {"migrationId": "m-a"})
    assert committed.json()["status"] == "COMMITTED", committed.text


@pytest.mark.parametrize("failure", ["peer down", "peer refuses the import"])
async def test_a_failed_migration_rolls_back_and_the_tenant_is_served_again(
    hooks: Hooks, peer: Peer, failure: str
) -> None:
    a = await hooks.install("stay")
    peer.down = failure == "peer down"
    peer.answers["import"] = 500
    assert await _migrate(hooks, a, "m-1") == "FAILED"
    locked = await hooks.notes(a)
    assert (locked.status_code, locked.json()["error"]) == (409, "migration_in_progress")

    first = await hooks.call(a, "rollback", {"migrationId": "m-1"})
    again = await hooks.call(a, "rollback", {"migrationId": "m-1"})

    assert (first.status_code, first.json()["status"]) == (200, "ROLLED_BACK"), first.text
    assert again.json() == first.json()
    if peer.down:
        assert first.json()["detail"] == "the EU deployment did not confirm that it holds no copy"
    else:
        assert ("rollback", "m-1") in peer.received and "detail" not in first.json()
    served = await hooks.notes(a)
    assert (served.status_code, served.json()) == (200, {"notes": [{"issueKey": "SIM-1", "text": "stay"}]})
    # Once the peer is back, the installation can move after all.
    peer.down, peer.answers = False, {}
    assert await _migrate(hooks, a, "m-2") == "READY"


async def test_a_ready_copy_is_not_abandoned_when_the_peer_cannot_be_told(hooks: Hooks, peer: Peer) -> None:
    a = await hooks.install("stay")
    assert await _migrate(hooks, a, "m-1") == "READY"
    peer.down = True
    for step in ("rollback", "commit"):
        refused = await hooks.call(a, step, {"migrationId": "m-1"})
        assert (refused.status_code, refused.json()["error"]) == (503, "peer_unavailable")
    assert (await hooks.call(a, "status", {"migrationId": "m-1"})).json()["status"] == "READY"
    peer.down = False
    assert (await hooks.call(a, "rollback", {"migrationId": "m-1"})).json()["status"] == "ROLLED_BACK"
    assert (await hooks.notes(a)).json() == {"notes": [{"issueKey": "SIM-1", "text": "stay"}]}


async def test_a_second_migration_cannot_start_while_one_holds_the_installation(hooks: Hooks) -> None:
    a = await hooks.install("one at a time")
    assert await _migrate(hooks, a, "m-1") == "READY"
    await hooks.call(a, "schedule", _body("schedule", "m-2"))
    second = await hooks.call(a, "start", {"migrationId": "m-2"})
    assert (second.status_code, second.json()["error"]) == (409, "migration_in_progress")
    assert (await hooks.call(a, "status", {"migrationId": "m-2"})).json()["status"] == "SCHEDULED"
    # Dropping the second one leaves the first one's lock: the tenant's writes stay refused until it ends.
    assert (await hooks.call(a, "rollback", {"migrationId": "m-2"})).json()["status"] == "ROLLED_BACK"
    assert (await hooks.notes(a)).status_code == 409
    assert (await hooks.call(a, "rollback", {"migrationId": "m-1"})).json()["status"] == "ROLLED_BACK"
    assert (await hooks.notes(a)).status_code == 200


_NESTED = b"[" * 100_000 + b"]" * 100_000  # beyond the size limit
_DEEP = b"[" * 5000 + b"]" * 5000  # within the size limit, beyond the parser's depth limit


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (_NESTED, 413, "body_too_large"),
        (_DEEP, 400, "body_malformed"),
        (b'{"migrationId": ' + _DEEP + b"}", 400, "body_malformed"),
        (orjson.dumps({"migrationId": "m-1", "pad": "x" * realm.MAX_HOOK_BODY_BYTES}), 413, "body_too_large"),
        (b"not json", 400, "body_malformed"),
        (b'["m-1"]', 400, "body_malformed"),
        (b"{}", 400, "migration_id_malformed"),
        (b'{"migrationId": "m-1\\n"}', 400, "migration_id_malformed"),
        (b'{"migrationId": ""}', 400, "migration_id_malformed"),
        (orjson.dumps({"migrationId": "m" * 129}), 400, "migration_id_malformed"),
        (b'{"migrationId": ["m-1"]}', 400, "migration_id_malformed"),
    ],
)
@pytest.mark.parametrize("step", [step for step in STEPS if step != "status"])
async def test_bodies_are_bounded_and_refused_with_a_reason(
    hooks: Hooks, step: str, content: bytes, status: int, code: str
) -> None:
    a = await hooks.install("a")
    answer = await hooks.call(a, step, content=content)
    assert (answer.status_code, answer.json()["error"]) == (status, code)


@pytest.mark.parametrize("value", ["m-1\n", "", "m" * 129, "m 1"])
async def test_status_refuses_a_malformed_migration_id(hooks: Hooks, value: str) -> None:
    a = await hooks.install("a")
    answer = await hooks.call(a, "status", {"migrationId": value})
    assert (answer.status_code, answer.json()["error"]) == (400, "migration_id_malformed")


async def test_schedule_refuses_a_realm_no_deployment_serves(hooks: Hooks) -> None:
    a = await hooks.install("a")
    for target in ("US", "AU", None, ["EU"]):
        answer = await hooks.call(a, "schedule", {"migrationId": "m-1", "targetRealm": target})
        assert (answer.status_code, answer.json()["error"]) == (400, "target_realm_invalid")


A_IDS = ("m-a-ready", "m-a-scheduled")
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_IDS = st.one_of(
    st.sampled_from([*A_IDS, "m-b"]),  # A's two, B's own
    st.from_regex(r"[A-Za-z0-9:._/-]{1,128}", fullmatch=True),  # unknown, or scheduled by B in an earlier example
    st.text(max_size=140),  # mostly malformed
    _JSON,
)
_RAW = [
    _NESTED,
    b'{"migrationId": ' + _DEEP + b"}",
    b"x" * (realm.MAX_HOOK_BODY_BYTES + 1),
    b"\xff\xfe",
    b"",
]


@pytest.fixture
async def world(hooks: Hooks) -> tuple[Installation, Installation]:
    """A with a READY migration holding its lock and a SCHEDULED one; B with a SCHEDULED migration of its own."""
    a, b = await hooks.install("a's note"), await hooks.install("b's note")
    assert await _migrate(hooks, a, "m-a-ready") == "READY"
    await hooks.call(a, "schedule", _body("schedule", "m-a-scheduled"))
    await hooks.call(b, "schedule", _body("schedule", "m-b"))
    return a, b


@hypothesis.settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    step=st.sampled_from(STEPS),
    migration_id=_IDS,
    target=st.sampled_from(["EU", "US", "XX"]) | _JSON,
    extra=_JSON,
    raw=st.none() | st.sampled_from(_RAW),
)
async def test_no_call_by_another_installation_fails_or_touches_its_migrations(
    hooks: Hooks,
    runtime: Runtime,
    peer: Peer,
    world: tuple[Installation, Installation],
    step: str,
    migration_id: object,
    target: object,
    extra: object,
    raw: bytes | None,
) -> None:
    a, b = world
    before, told = _state_of(runtime, a), [entry for entry in peer.received if entry[1] in A_IDS]
    body = {"migrationId": migration_id, "targetRealm": target, "extra": extra}
    answer = await hooks.call(b, step, body, content=raw)
    assert answer.status_code < 500, answer.text
    assert answer.status_code == 200 or set(answer.json()) == {"error", "message"}
    assert _state_of(runtime, a) == before
    assert [entry for entry in peer.received if entry[1] in A_IDS] == told


async def test_the_destination_confirms_a_commit_only_for_a_copy_it_holds(hooks: Hooks, runtime: Runtime) -> None:
    # On a 200 the source deletes the tenant: a copy rolled back or never imported must not be confirmed.
    sealed = transfer_seal(runtime).seal("m-9", "commit", {"migrationId": "m-9"})
    async with httpx.AsyncClient(transport=hooks.host, base_url=HOOKS) as client:
        answer = await client.post("/peer/commit", content=sealed, headers={"x-pledge-migration": "m-9"})
    assert (answer.status_code, answer.json()["error"]) == (409, "migration_state_conflict")
