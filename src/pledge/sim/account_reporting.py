"""Atlassian's personal data reporting API, simulated: accounts closed or updated on demand, answered as Atlassian
does (S2).

One :class:`AccountDirectory` is Atlassian's account service for every simulated site: accounts are closed or
updated through the control API (``pledge sim account close|update``) or by tests. It answers

- ``POST {site}/rest/atlassian-connect/1/report/accounts/`` for Connect apps (a JWT with the app's shared secret and
  the request's QSH, checked as the site checks its other REST calls), and
- ``POST {api}/app/report-accounts/`` for Forge apps (an app token this site issued);

with 400 for a body that is not ``{"accounts": [1 to 90 {"accountId", "updatedAt"}]}``, 401 for credentials that
do not verify, 429 with ``Retry-After`` while throttled, a 5xx when told to fail, else 200 with the accounts that
need action (``closed``; ``updated`` when the profile changed after the reported ``updatedAt``) or 204 when none
does; 200 and 204 carry ``Cycle-Period`` (days). Each request is recorded by the site like any other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.clock import Clock
from pledge.sim.connect_site import SimError
from pledge.sim.control import add_control_route
from pledge.sim.site import RestRefused, SimSite

CONNECT_PATH: Final = "/rest/atlassian-connect/1/report/accounts/"
FORGE_PATH: Final = "/app/report-accounts/"
MAX_ACCOUNTS: Final = 90
_ACCOUNT_ID: Final = re.compile(r"[A-Za-z0-9:-]{1,128}")
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass
class AccountDirectory:
    """Atlassian's view of accounts, and how its reporting API behaves right now."""

    clock: Clock
    closed: set[str] = field(default_factory=set)
    updated: dict[str, datetime] = field(default_factory=dict)
    """accountId → when its profile last changed."""
    cycle_period_days: int = 7
    throttle: int = 0
    """The next this many requests are answered 429."""
    retry_after_seconds: int = 30
    fail: int = 0
    """The next this many requests (after any throttled ones) are answered 503."""
    reports: int = 0
    """Requests answered 200 or 204."""

    def close(self, account_id: str) -> None:
        self.closed.add(_checked(account_id))

    def update(self, account_id: str) -> None:
        self.updated[_checked(account_id)] = self.clock.now()

    def serve_on(self, site: SimSite) -> None:
        """Answer the reporting API on ``site``: Connect's path under its context path, Forge's at its root."""

        async def connect(request: Request) -> Response:
            return await self._answer(site, request, "connect-jwt")

        async def forge(request: Request) -> Response:
            return await self._answer(site, request, "forge-app")

        site.add_route(site.context_path + CONNECT_PATH, connect, methods=("POST",))
        site.add_route(FORGE_PATH, forge, methods=("POST",))

    async def _answer(self, site: SimSite, request: Request, scheme: str) -> Response:
        try:
            caller = await site.authenticate(request)
        except RestRefused as exc:
            return JSONResponse({"error": "unauthorized", "reason": exc.reason}, status_code=401)
        if caller.scheme != scheme:
            return JSONResponse({"error": "unauthorized", "reason": f"this API takes {scheme}"}, status_code=401)
        if self.throttle > 0:
            self.throttle -= 1
            return JSONResponse({"error": "rate limited"}, 429, {"Retry-After": str(self.retry_after_seconds)})
        if self.fail > 0:
            self.fail -= 1
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        accounts = _accounts(await request.body())
        if accounts is None:
            reason = f"give accounts: 1 to {MAX_ACCOUNTS} objects of accountId and updatedAt (RFC 3339)"
            return JSONResponse({"error": "bad request", "reason": reason}, status_code=400)
        self.reports += 1
        answers = [{"accountId": a, "status": s} for a, at in accounts if (s := self._status(a, at)) is not None]
        headers = {"Cycle-Period": str(self.cycle_period_days)}
        if not answers:
            return Response(status_code=204, headers=headers)
        return JSONResponse({"accounts": answers}, headers=headers)

    def _status(self, account_id: str, reported_at: datetime) -> str | None:
        if account_id in self.closed:
            return "closed"
        changed = self.updated.get(account_id)
        return "updated" if changed is not None and changed > reported_at else None


def add_reporting_control_routes(site: SimSite, directory: AccountDirectory) -> None:
    """``/_sim/accounts/{id}/close|update`` and ``/_sim/reporting`` (behaviour: throttle, fail, cycle period)."""

    async def account(request: Request, _body: dict[str, Any]) -> Any:
        account_id, action = request.path_params["account"], request.path_params["action"]
        actions = {"close": directory.close, "update": directory.update}
        if action not in actions:
            raise SimError(f"unknown action {action!r}: close or update")
        actions[action](account_id)
        return {"accountId": account_id, "done": action}

    async def behaviour(_request: Request, body: dict[str, Any]) -> Any:
        for name, attribute, lowest in (
            ("throttle", "throttle", 0),
            ("retryAfter", "retry_after_seconds", 0),
            ("fail", "fail", 0),
            ("cyclePeriod", "cycle_period_days", 1),
        ):
            if name in body:
                value = body[name]
                if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= 10_000:
                    raise SimError(f"{name} must be a whole number from {lowest} to 10000")
                setattr(directory, attribute, value)
        return state()

    async def current(_request: Request, _body: dict[str, Any]) -> Any:
        return state()

    def state() -> dict[str, Any]:
        return {
            "closed": len(directory.closed),
            "updated": len(directory.updated),
            "cyclePeriod": directory.cycle_period_days,
            "throttle": directory.throttle,
            "retryAfter": directory.retry_after_seconds,
            "fail": directory.fail,
            "reports": directory.reports,
        }

    add_control_route(site, "/accounts/{account}/{action}", account)
    add_control_route(site, "/reporting", behaviour)
    add_control_route(site, "/reporting", current, method="GET")


def _checked(account_id: str) -> str:
    if account_id == "unknown" or not _ACCOUNT_ID.fullmatch(account_id):
        raise SimError("an accountId is 1 to 128 letters, digits, '-' and ':'")
    return account_id


def _accounts(body: bytes) -> list[tuple[str, datetime]] | None:
    """The reported (accountId, updatedAt) pairs of a valid request body, else None."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    entries = document.get("accounts") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ACCOUNTS:
        return None
    accounts = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        account, updated = entry.get("accountId"), entry.get("updatedAt")
        if not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account) or account == "unknown":
            return None
        if not isinstance(updated, str) or not _RFC3339.fullmatch(updated):
            return None
        accounts.append((account, datetime.fromisoformat(updated.replace("Z", "+00:00"))))
    return accounts
