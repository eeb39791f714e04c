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


def _seed(data_dir: Path) -> None:
    """Install the bench tenant into the server's database (it reads it on its first request)."""
    runtime = Runtime.open(load_settings(data_dir=data_dir))
    try:
        tenant = runtime.tenants.create(
            app_key=APP_KEY, client_key=CLIENT_KEY, base_url="https://bench.atlassian.net", product_type="jira"
        )
        runtime.tenants.set_shared_secret(tenant.id, SECRET)
    finally:
        runtime.close()


def _token() -> str:
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
        _seed(served.data_dir)
        _seed(uncached.data_dir)
        signed = plain | {"Authorization": f"JWT {_token()}"}
        bare, webhook = f"{served.url}/apps/{APP_KEY}{BARE}", f"{served.url}/apps/{APP_KEY}{WEBHOOK}"
        for url, headers in ((bare, plain), (webhook, signed), (f"{uncached.url}/apps/{APP_KEY}{WEBHOOK}", signed)):
            run_wrk(url, method="POST", headers=headers, body=MINIMAL_EVENT, duration=1, warmup=0)
        cpu, uncached_cpu = CpuPerRequest(served), CpuPerRequest(uncached)

        def load(url: str, headers: dict[str, str], event: str = MINIMAL_EVENT) -> Callable[[], LoadResult]:
            return lambda: run_wrk(url, method="POST", headers=headers, body=event, duration=4, warmup=0)

        names = [
            "minimal event, no authentication",
            "minimal event, Connect JWT + QSH",
            "minimal event, JWT, no tenant cache",
            "5 KiB issue event, no authentication",
            "5 KiB issue event, Connect JWT + QSH",
        ]
        rows = interleave(
            {
                names[0]: cpu(names[0], load(bare, plain)),
                names[1]: cpu(names[1], load(webhook, signed)),
                names[2]: uncached_cpu(names[2], load(f"{uncached.url}/apps/{APP_KEY}{WEBHOOK}", signed)),
                names[3]: cpu(names[3], load(bare, plain, ISSUE_EVENT)),
                names[4]: cpu(names[4], load(webhook, signed, ISSUE_EVENT)),
            },
            rounds=rounds,
        )
    micros = [cpu.median_us(name) if name != names[2] else uncached_cpu.median_us(name) for name in names]
    # The authenticated rows against the bare row of the same event, by CPU (the steadier figure) and by req/s.
    versus = {1: 0, 2: 0, 4: 3}
    return [
        replace(
            row,
            note=f"{row.note}; server CPU {micros[i]:.0f} µs/request"
            + (
                f"; {row.result.rps / rows[versus[i]].result.rps:.0%} of its bare row by req/s, "
                f"{micros[versus[i]] / micros[i]:.0%} by CPU (target 85 %)"
                if i in versus
                else ""
            ),
        )
        for i, row in enumerate(rows)
    ]


if __name__ == "__main__":
    rows = scenarios()
    print_table(rows, title="Connect authentication (S11) vs the bare route")
