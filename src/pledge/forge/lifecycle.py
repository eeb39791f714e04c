"""Forge lifecycle for a remote: the installed and upgraded triggers, and the preUninstall endpoint (S3, S6).

Forge delivers triggers with a 5 s timeout and redelivers up to four times (``retryContext``), so each handler is
idempotent and does a few database statements only. ``preUninstall`` starts the uninstall grace: the tenant goes to
UNINSTALLED, and the retention job deletes its data when the grace ends (S7). The payload's installer accountId
and ``contextToken`` are never read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.errors import PledgeError
from pledge.tenants import Tenant, TenantNotFound, TenantState
from pledge.trust.forge import Invocation

if TYPE_CHECKING:
    from pledge.forge.requests import ForgeRequestVerifier

log = logging.getLogger("pledge.forge.lifecycle")

INSTALLED = "avi:forge:installed:app"
UPGRADED = "avi:forge:upgraded:app"


class Lifecycle:
    def __init__(self, verifier: ForgeRequestVerifier) -> None:
        self._verifier = verifier
        self._runtime = verifier.runtime

    async def installed(self, request: Request) -> Response:
        return await self._trigger(request, INSTALLED)

    async def upgraded(self, request: Request) -> Response:
        return await self._trigger(request, UPGRADED)

    async def pre_uninstall(self, request: Request) -> Response:
        invocation = await self._verifier.fit.verify(request.headers.get("authorization"))
        tenant = await run_in_threadpool(self._uninstall, invocation)
        log.info("Forge preUninstall: tenant %s uninstalled, grace started", tenant.id)
        return JSONResponse({"status": "uninstalled"})

    async def _trigger(self, request: Request, expected: str) -> Response:
        invocation = await self._verifier.fit.verify(request.headers.get("authorization"))
        payload = await _payload(request)
        event = payload.get("eventType", expected)
        if event != expected:
            raise PledgeError(f"this endpoint takes {expected}, not {event!r}: check the trigger in manifest.yml")
        tenant, created = await run_in_threadpool(self._install, invocation)
        retry = payload.get("retryContext")
        attempt = retry.get("retryCount", 0) if isinstance(retry, dict) else 0
        log.info("Forge %s: tenant %s %s (attempt %s)", event, tenant.id, "created" if created else "known", attempt)
        return JSONResponse({"status": "installed" if expected == INSTALLED else "upgraded"})

    def _install(self, invocation: Invocation) -> tuple[Tenant, bool]:
        self._verifier.forget(invocation.installation_id)
        tenants = self._runtime.tenants
        try:
            tenant = tenants.by_installation_id(self._verifier.app.key, invocation.installation_id)
        except TenantNotFound:
            from pledge.forge.migration import departed_to

            realm = departed_to(self._runtime.engine, self._verifier.app.key, invocation.installation_id)
            if realm is not None:
                raise self._verifier.misdirected(realm) from None
        else:
            if tenant.region != self._runtime.settings.region:
                raise self._verifier.misdirected(tenant.region)
        return self._verifier.installations.install(invocation)

    def _uninstall(self, invocation: Invocation) -> Tenant:
        self._verifier.forget(invocation.installation_id)
        try:
            tenant = self._runtime.tenants.by_installation_id(self._verifier.app.key, invocation.installation_id)
        except TenantNotFound:
            raise PledgeError("preUninstall for an installation that is no tenant here: nothing to do") from None
        if tenant.region != self._runtime.settings.region:
            raise self._verifier.misdirected(tenant.region)
        if tenant.state in (TenantState.UNINSTALLED, TenantState.PURGED):
            return tenant
        return self._runtime.tenants.transition(tenant.id, TenantState.UNINSTALLED)


async def _payload(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    try:
        payload = await request.json()
    except ValueError:
        raise PledgeError("the trigger body is not JSON") from None
    if not isinstance(payload, dict):
        raise PledgeError("the trigger body is not a JSON object")
    return payload
