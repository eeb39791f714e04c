"""Atlassian's personal data reporting API, as the app calls it for one tenant (S2, S11, S13).

``POST {"accounts": [{"accountId", "updatedAt"}]}`` with at most 90 accounts; Atlassian answers 200 with
``{"accounts": [{"accountId", "status": "closed" | "updated"}]}`` for those needing action, 204 when none does, and
may ask for another cycle length in a ``Cycle-Period`` header (days). Connect apps call
``/rest/atlassian-connect/1/report/accounts/`` on the tenant's site with a JWT signed by its shared secret; Forge apps
call ``/app/report-accounts/`` on Atlassian's API host with the app token Forge sent. Both go through the one
outbound client. 429 is retried after ``Retry-After``, 5xx with exponential backoff, both a bounded number of times;
any other answer fails the batch. Only accounts that were reported are acted on: an answer naming another id is
ignored, never erased.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from pledge.clock import Clock
from pledge.connect.product_client import retry_after_seconds
from pledge.errors import PledgeError

CONNECT_REPORT_PATH: Final = "/rest/atlassian-connect/1/report/accounts/"
FORGE_REPORT_PATH: Final = "/app/report-accounts/"
MAX_BATCH: Final = 90
"""Accounts per request, as Atlassian allows."""
DEFAULT_CYCLE: Final = timedelta(days=7)
MIN_CYCLE: Final = timedelta(days=1)
MAX_CYCLE: Final = timedelta(days=30)
"""A ``Cycle-Period`` outside these bounds is taken as the nearest bound: never more often than daily, never less
often than monthly, whatever a header says."""
MAX_ATTEMPTS: Final = 5
BASE_BACKOFF_SECONDS: Final = 1.0
MAX_WAIT: Final = timedelta(minutes=5)
"""A ``Retry-After`` longer than this is not waited for: the tenant's cycle stops and is retried on a later run."""

_CYCLE_DAYS: Final = re.compile(r"[0-9]{1,4}")
_STATUSES: Final = frozenset({"closed", "updated"})

Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[dict[str, Any]], Awaitable[httpx.Response]]
"""Posts one request body to the reporting API, authenticated as the app for the tenant."""


class ReportingFailed(PledgeError):
    """The reporting API did not answer a batch usefully (after the retries it allows)."""


class ReportingThrottled(ReportingFailed):
    """Atlassian asked to wait longer than a run waits, or kept answering 429."""


@dataclass(frozen=True, slots=True)
class ReportedAccount:
    account_id: str = field(repr=False)
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    """What Atlassian answered for one batch: the accounts to erase, those to refresh, and the cycle it asks for."""

    closed: tuple[str, ...] = field(default=(), repr=False)
    updated: tuple[str, ...] = field(default=(), repr=False)
    cycle_period: timedelta | None = None


class ReportingApi:
    """Reports batches of accounts for one tenant through ``send``, retrying as Atlassian asks."""

    def __init__(self, send: Send, clock: Clock, *, sleep: Sleep = asyncio.sleep) -> None:
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        """Seconds spent waiting on 429 and 5xx answers."""

    async def report(self, accounts: Sequence[ReportedAccount]) -> Answer:
        if not 1 <= len(accounts) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} accounts, not {len(accounts)}")
        body = {"accounts": [{"accountId": a.account_id, "updatedAt": _rfc3339(a.updated_at)} for a in accounts]}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = await self._send(body)
            status = response.status_code
            if status in (200, 204):
                return _answer(response, {a.account_id for a in accounts})
            if status != 429 and status < 500:
                raise ReportingFailed(f"the reporting API answered {status}")
            if attempt == MAX_ATTEMPTS:
                break
            await self._wait(response, attempt)
        if status == 429:
            raise ReportingThrottled(f"the reporting API answered 429 {MAX_ATTEMPTS} times")
        raise ReportingFailed(f"the reporting API answered {status} {MAX_ATTEMPTS} times")

    async def _wait(self, response: httpx.Response, attempt: int) -> None:
        asked = retry_after_seconds(response.headers.get("retry-after"), self._clock.now())
        backoff = BASE_BACKOFF_SECONDS * 2 ** (attempt - 1)
        wait = max(asked, 0.0) if asked is not None else backoff
        if wait > MAX_WAIT.total_seconds():
            raise ReportingThrottled(f"the reporting API asked to wait {wait:.0f} s, more than a run waits")
        self.waited += wait
        await self._sleep(wait)


def cycle_period(value: str | None) -> timedelta | None:
    """The cycle a ``Cycle-Period`` header asks for (whole days), within the bounds; None when it says nothing."""
    if value is None or not _CYCLE_DAYS.fullmatch(value.strip()):
        return None
    return min(max(timedelta(days=int(value.strip())), MIN_CYCLE), MAX_CYCLE)


def _answer(response: httpx.Response, reported: set[str]) -> Answer:
    period = cycle_period(response.headers.get("cycle-period"))
    if response.status_code == 204:
        return Answer(cycle_period=period)
    try:
        document = response.json()
    except ValueError:
        raise ReportingFailed("the reporting API answered 200 with a body that is not JSON") from None
    entries = document.get("accounts") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ReportingFailed("the reporting API answered 200 without an accounts list")
    closed: list[str] = []
    updated: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ReportingFailed("the reporting API answered an account that is not an object")
        account, status = entry.get("accountId"), entry.get("status")
        if status not in _STATUSES:
            raise ReportingFailed("the reporting API answered an account status other than closed or updated")
        if account in reported:
            (closed if status == "closed" else updated).append(str(account))
    return Answer(tuple(closed), tuple(updated), period)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
