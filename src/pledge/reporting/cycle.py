"""The reporting job: each tenant's accountIds reported to Atlassian on its cycle, and Atlassian's answer acted on.

Once an hour the job looks for tenants that are due: active tenants of apps declaring account fields whose last
successful cycle is a cycle old (7 days, or what Atlassian's ``Cycle-Period`` header asked for last time). For each
it collects the accountIds with their ``updatedAt`` (:mod:`pledge.reporting.accounts`), reports them in batches of
at most 90 (:mod:`pledge.reporting.atlassian_api`), and for every account Atlassian answers:

- ``closed``: the app's ``on_account_closed`` hook runs, then Pledge erases the account from the tenant's records;
- ``updated``: the app's ``on_account_updated`` hook runs (the app refreshes what it keeps).

Each cycle is recorded (counts and outcome, no accountId) in a fenced transaction. A cycle that fails or is
throttled is retried on the next run; a cycle killed midway left no record and is done again whole, which is safe
(erasing twice changes nothing). See docs/personal-data-reporting.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Final, TypeVar

import anyio
import anyio.from_thread
import httpx

from pledge.app import AccountEvent, AccountHook, App, ProductApi
from pledge.connect.product_client import ProductClient
from pledge.errors import PledgeError
from pledge.forge.api_client import ForgeApiClient
from pledge.forge.requests import app_client, held_app_tokens
from pledge.jobs import Job, JobContext
from pledge.reporting.accounts import erase_accounts, stored_accounts
from pledge.reporting.atlassian_api import (
    CONNECT_REPORT_PATH,
    DEFAULT_CYCLE,
    FORGE_REPORT_PATH,
    MAX_BATCH,
    ReportedAccount,
    ReportingApi,
    ReportingFailed,
    ReportingThrottled,
    Send,
    Sleep,
)
from pledge.reporting.tables import CYCLE_ROWS, CycleOutcome, CycleRecord, last_successes, record_cycle
from pledge.runtime import Runtime
from pledge.store import TenantStore
from pledge.store.async_store import AsyncTenantStore
from pledge.tenants import Tenant, TenantState

log = logging.getLogger("pledge.reporting")

JOB_NAME: Final = "personal-data-reporting"
JOB_PERIOD: Final = timedelta(hours=1)
JOB_DEADLINE: Final = timedelta(minutes=30)
REPORTED_STATES: Final = (TenantState.INSTALLED, TenantState.ENABLED)
"""Only active tenants are reported: a disabled or uninstalled app cannot call the product as the app."""

T = TypeVar("T")


@dataclass
class _Counts:
    accounts: int = 0
    batches: int = 0
    closed: int = 0
    updated: int = 0
    records_erased: int = 0
    hook_failures: int = 0


@dataclass(frozen=True)
class _Channel:
    send: Send
    product: ProductApi


class Reporter:
    """Reports the due tenants of ``apps``; ``sleep`` is how a 429 or 5xx is waited out (tests move a clock)."""

    def __init__(self, runtime: Runtime, apps: Sequence[App], *, sleep: Sleep = asyncio.sleep) -> None:
        self._runtime = runtime
        self._apps = tuple(app for app in apps if app.data.stores_account_ids)
        self._sleep = sleep
        runtime.tenant_data.register(CYCLE_ROWS)

    def job(self) -> Job:
        return Job(name=JOB_NAME, period=JOB_PERIOD, deadline=JOB_DEADLINE, run=self.run)

    def due(self) -> list[tuple[App, Tenant]]:
        """The tenants whose cycle has come: never reported, or a cycle past their last success."""
        now = self._runtime.clock.now()
        candidates = [
            (app, tenant)
            for app in self._apps
            for tenant in self._runtime.tenants.list(app_key=app.key, states=REPORTED_STATES)
        ]
        last = last_successes(self._runtime.engine, [tenant.id for _, tenant in candidates])
        return [
            (app, tenant)
            for app, tenant in candidates
            if tenant.id not in last or last[tenant.id].started_at + last[tenant.id].cycle <= now
        ]

    def run(self, context: JobContext) -> None:
        budget_ends = context.started_at + JOB_DEADLINE / 2  # leave the lease time to record the last cycle
        for app, tenant in self.due():
            if context.now() >= budget_ends:
                log.info("reporting: run budget spent; the remaining tenants are reported on the next run")
                return
            context.check()
            record = _run_async(partial(self.report, app, tenant))
            with context.transaction() as connection:
                record_cycle(connection, record)

    async def report(self, app: App, tenant: Tenant) -> CycleRecord:
        """One tenant's cycle, from collection to acting on the answers; returns its record (not yet written)."""
        clock = self._runtime.clock
        started = clock.now()
        counts = _Counts()
        cycle = DEFAULT_CYCLE
        outcome, error = CycleOutcome.SUCCEEDED, None
        store = self._runtime.store_for(app, tenant)
        try:
            accounts = sorted((await asyncio.to_thread(stored_accounts, store, app.data)).items())
            counts.accounts = len(accounts)
            channel = await self._channel(app, tenant) if accounts else None
            for start in range(0, len(accounts), MAX_BATCH):
                assert channel is not None
                api = ReportingApi(channel.send, clock, sleep=self._sleep)
                batch = [ReportedAccount(account, updated) for account, updated in accounts[start : start + MAX_BATCH]]
                answer = await api.report(batch)
                counts.batches += 1
                cycle = answer.cycle_period or cycle
                await self._act(app, tenant, store, channel.product, answer.closed, answer.updated, counts)
        except ReportingThrottled as exc:
            outcome, error = CycleOutcome.THROTTLED, str(exc)
        except (PledgeError, httpx.HTTPError) as exc:
            outcome, error = CycleOutcome.FAILED, (str(exc) if isinstance(exc, PledgeError) else type(exc).__name__)
        finished = clock.now()
        log.info(
            "tenant %s: reporting cycle %s: %d accounts in %d batches, %d closed, %d updated, %d records erased%s",
            tenant.id,
            outcome.value,
            counts.accounts,
            counts.batches,
            counts.closed,
            counts.updated,
            counts.records_erased,
            f" ({error})" if error else "",
        )
        return CycleRecord(
            id=uuid.uuid4().hex,
            tenant_id=tenant.id,
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            cycle=cycle,
            error=None if error is None else error[:200],
            **vars(counts),
        )

    async def _act(
        self,
        app: App,
        tenant: Tenant,
        store: TenantStore,
        product: ProductApi,
        closed: tuple[str, ...],
        updated: tuple[str, ...],
        counts: _Counts,
    ) -> None:
        awaited = AsyncTenantStore(store, self._runtime.store_threads)
        for account in closed:
            await self._call(app.account_closed_hook, AccountEvent(tenant, account, awaited, product), counts)
        if closed:
            counts.records_erased += await asyncio.to_thread(erase_accounts, store, app.data, frozenset(closed))
        for account in updated:
            await self._call(app.account_updated_hook, AccountEvent(tenant, account, awaited, product), counts)
        counts.closed += len(closed)
        counts.updated += len(updated)

    @staticmethod
    async def _call(hook: AccountHook | None, event: AccountEvent, counts: _Counts) -> None:
        if hook is None:
            return
        try:
            await hook(event)
        except Exception as exc:  # the app's code: its failure is counted, and erasure happens regardless
            log.warning("tenant %s: an account hook failed (%s)", event.tenant.id, type(exc).__name__)
            counts.hook_failures += 1

    async def _channel(self, app: App, tenant: Tenant) -> _Channel:
        """How this tenant reports: Connect's signed call on its site when it has a shared secret, else Forge's
        app token to Atlassian's API host."""
        runtime = self._runtime
        if tenant.client_key is not None:
            connect = await asyncio.to_thread(runtime.connect_tenants.load, app.key, tenant.client_key)
            if connect is None:
                raise ReportingFailed(f"tenant {tenant.id} has no shared secret: it cannot call its site")
            # One attempt per call: retries (5xx included, which the product client would not retry on a POST) are
            # the reporting API's, bounded there.
            client = ProductClient(connect.tenant, connect.shared_secret, runtime.egress, runtime.clock, max_attempts=1)
            return _Channel(lambda body: client.request("POST", CONNECT_REPORT_PATH, json=body), client)
        token, _ = held_app_tokens(runtime, app).get(tenant.id)
        api = ForgeApiClient(runtime.egress, runtime.settings.atlassian_api_url, token, runtime.clock)
        product = app_client(runtime, app, tenant.id)
        return _Channel(lambda body: api.request("POST", FORGE_REPORT_PATH, json=body), product)


def reporting_job(runtime: Runtime, apps: Sequence[App], *, sleep: Sleep = asyncio.sleep) -> Job:
    """The ``personal-data-reporting`` job of a deployment serving ``apps``."""
    return Reporter(runtime, apps, sleep=sleep).job()


def _run_async(function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``function`` on the event loop of the server whose worker thread runs the job (its outbound client's
    connections belong to that loop); on a loop of its own when there is none (``pledge jobs run``)."""
    try:
        return anyio.from_thread.run(function)
    except anyio.NoEventLoopError:
        return asyncio.run(function())


__all__ = ["JOB_NAME", "Reporter", "reporting_job"]
