"""What S11 costs: a Connect webhook behind JWT + QSH verification against the same route with no authentication.

One server, one run: the same handler (parse the JSON event, answer 204) is mounted twice in one app, once as a
webhook (HS256 with the tenant's shared secret, exact QSH, tenant state) and once as a public route. A second
server runs the same app with a tenant cache that keeps nothing, to show what reading the tenant and unsealing its
secret per request would cost. Each runs with a minimal event (the route at its cheapest, so authentication weighs
most) and with an issue event shaped like the product's. Target (issue 3): authenticated ≥ 85 % of the bare route.

    python -m bench connect_auth        (or: python bench/connect_auth.py)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import jwt
from starlette.applications import Starlette
from starlette.responses import Response

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import CpuPerRequest, LoadResult, Row, interleave, pledge_host, print_table, run_wrk, serve
from pledge import schema
from pledge.app import App, Auth, RequestContext
from pledge.config import load_settings
from pledge.host import create_host
from pledge.runtime import Runtime
from pledge.trust.qsh import query_string_hash
from pledge.trust.tenant_cache import ConnectTenantCache

APP_KEY = "bench"
CLIENT_KEY = "bench-client-key"
SECRET = "bench-shared-secret-" + "0123456789" * 4
WEBHOOK = "/webhooks/jira-issue-updated"
MINIMAL_BARE = "minimal event, no authentication"
ISSUE_BARE = "5 KiB issue event, no authentication"
BARE = "/bare/jira-issue-updated"
MINIMAL_EVENT = json.dumps(
    {
        "timestamp": 1795770000000,
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": "SIM-1", "fields": {"summary": "Printer on fire", "status": {"name": "In Progress"}}},
        "changelog": {"items": [{"field": "status", "fromString": "To Do", "toString": "In Progress"}]},
    }
)


def _issue_event() -> str:
    """A ``jira:issue_updated`` shaped like the product's (about 5 KiB): the issue's fields, the user, a changelog."""
    user = {
        "self": "https://bench.atlassian.net/rest/api/2/user?accountId=5b10a2844c20165700ede21g",
        "accountId": "5b10a2844c20165700ede21g",
        "avatarUrls": {size: f"https://avatar-management.example/{size}.png" for size in ("48x48", "24x24", "16x16")},
        "displayName": "Bench User",
        "active": True,
        "timeZone": "Europe/Paris",
        "accountType": "atlassian",
    }
    paragraph = {
        "type": "paragraph",
        "content": [{"type": "text", "text": "The printer on the third floor is on fire. " * 4}],
    }
    fields = {
        "summary": "Printer on fire",
        "description": {"type": "doc", "version": 1, "content": [paragraph] * 6},
        "status": {"name": "In Progress", "id": "3", "statusCategory": {"key": "indeterminate", "colorName": "yellow"}},
        "priority": {"name": "Highest", "id": "1"},
        "issuetype": {"name": "Bug", "id": "10004", "subtask": False, "hierarchyLevel": 0},
        "project": {"key": "SIM", "id": "10000", "name": "Simulation", "projectTypeKey": "software"},
        "assignee": user,
        "reporter": user,
        "creator": user,
        "labels": ["facilities", "fire", "hardware"],
        "components": [{"id": "10001", "name": "Office"}],
        "created": "2026-11-27T08:55:00.000+0000",
        "updated": "2026-11-27T09:00:00.000+0000",
        **{f"customfield_{10000 + n}": None for n in range(40)},
    }
    return json.dumps(
        {
            "timestamp": 1795770000000,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": user,
            "issue": {
                "id": "10001",
                "key": "SIM-1",
                "self": "https://bench.atlassian.net/rest/api/2/10001",
                "fields": fields,
            },
            "changelog": {
                "id": "10100",
                "items": [{"field": "status", "fromString": "To Do", "toString": "In Progress"}],
            },
        }
    )


ISSUE_EVENT = _issue_event()

bench_app = App(key=APP_KEY, name="Bench")


async def handle(context: RequestContext) -> Response:
    await context.json()
    return Response(status_code=204)


bench_app.webhook("jira:issue_updated", path=WEBHOOK)(handle)
bench_app.route(BARE, auth=Auth.PUBLIC, methods=("POST",))(handle)


def host() -> Starlette:
    """The server under test (a ``--factory`` target): Pledge's host serving the bench app."""
    return pledge_host(bench_app)


def host_without_tenant_cache() -> Starlette:
    """The same, with a tenant cache that keeps nothing: every request reads the tenant and unseals its secret."""
    runtime = Runtime.open(load_settings())
    schema.upgrade(runtime.engine)
    runtime.connect_tenants = ConnectTenantCache(runtime.tenants, ttl_seconds=0)
    return create_host(runtime, [bench_app])


def seed_tenant(data_dir: Path) -> None:
    """Install the bench tenant into the server's database (it reads it on its first request)."""
    runtime = Runtime.open(load_settings(data_dir=data_dir))
    try:
        tenant = runtime.tenants.create(
            app_key=APP_KEY, client_key=CLIENT_KEY, base_url="https://bench.atlassian.net", product_type="jira"
        )
        runtime.tenants.set_shared_secret(tenant.id, SECRET)
    finally:
        runtime.close()


def signed_token() -> str:
    now = int(time.time())
    qsh = query_string_hash("POST", f"/apps/{APP_KEY}{WEBHOOK}", context_path=f"/apps/{APP_KEY}")
    # exp as the product issues it (3 minutes): the whole run fits well inside.
    return jwt.encode({"iss": CLIENT_KEY, "iat": now, "exp": now + 180, "qsh": qsh}, SECRET, algorithm="HS256")


def scenarios(rounds: int = 3) -> list[Row]:
    """Both servers up first, then bare and authenticated loads take turns, round after round."""
    plain = {"Content-Type": "application/json"}
    with (
        serve("bench.connect_auth:host", factory=True, ready_path="/healthz") as served,
        serve("bench.connect_auth:host_without_tenant_cache", factory=True, ready_path="/healthz") as uncached,
    ):
        seed_tenant(served.data_dir)
        seed_tenant(uncached.data_dir)
        signed = plain | {"Authorization": f"JWT {signed_token()}"}
        bare, webhook = f"{served.url}/apps/{APP_KEY}{BARE}", f"{served.url}/apps/{APP_KEY}{WEBHOOK}"
        uncached_webhook = f"{uncached.url}/apps/{APP_KEY}{WEBHOOK}"
        # Warm up outside the measured loads: CPU per request counts everything between their start and end.
        for url, headers in ((bare, plain), (webhook, signed), (uncached_webhook, signed)):
            run_wrk(url, method="POST", headers=headers, body=MINIMAL_EVENT, duration=1, warmup=0)
        cpu, uncached_cpu = CpuPerRequest(served), CpuPerRequest(uncached)

        def load(url: str, headers: dict[str, str], event: str = MINIMAL_EVENT) -> Callable[[], LoadResult]:
            return lambda: run_wrk(url, method="POST", headers=headers, body=event, duration=4, warmup=0)

        # name: (the server's CPU recorder, the load, the bare row it is compared with)
        plan: dict[str, tuple[CpuPerRequest, Callable[[], LoadResult], str | None]] = {
            MINIMAL_BARE: (cpu, load(bare, plain), None),
            "minimal event, Connect JWT + QSH": (cpu, load(webhook, signed), MINIMAL_BARE),
            "minimal event, JWT, no tenant cache": (uncached_cpu, load(uncached_webhook, signed), MINIMAL_BARE),
            ISSUE_BARE: (cpu, load(bare, plain, ISSUE_EVENT), None),
            "5 KiB issue event, Connect JWT + QSH": (cpu, load(webhook, signed, ISSUE_EVENT), ISSUE_BARE),
        }
        rows = interleave({name: recorder(name, work) for name, (recorder, work, _) in plan.items()}, rounds=rounds)
    by_name = {row.name: row for row in rows}
    micros = {name: recorder.median_us(name) for name, (recorder, _, _) in plan.items()}

    def noted(row: Row) -> Row:
        note = f"{row.note}; server CPU {micros[row.name]:.0f} µs/request"
        against = plan[row.name][2]
        if against is not None:
            by_rps = row.result.rps / by_name[against].result.rps
            note += f"; {by_rps:.0%} of its bare row by req/s, {micros[against] / micros[row.name]:.0%} by CPU"
            note += " (target 85 %)"
        return replace(row, note=note)

    return [noted(row) for row in rows]


if __name__ == "__main__":
    rows = scenarios()
    print_table(rows, title="Connect authentication (S11) vs the bare route")
