"""Forge lifecycle for a remote: the installed and upgraded triggers, and the preUninstall endpoint (S3, S6).

Forge delivers triggers with a 5 s timeout and redelivers up to four times (``retryContext``), so each handler is
idempotent and does a few database statements only. ``preUninstall`` starts the uninstall grace: the tenant goes to
UNINSTALLED, and the retention job deletes its data when the grace ends (S7). The payload's installer accountId
and ``contextToken`` are never read.

Each endpoint takes only FITs minted for its own module (``app.module.key``, and ``context.moduleKey`` when there is
one): a FIT Forge minted for a UI call or another trigger of the app does not uninstall a tenant. Bodies are bounded
and parsed strictly (a lifecycle payload is a few hundred bytes) before any of them is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.errors import Refused
from pledge.forge.migration import departed_to
from pledge.tenants import Tenant, TenantNotFound, TenantState
from pledge.trust.connect_jwt import read_json_object
from pledge.trust.forge_fit import Invocation

if TYPE_CHECKING:
    from pledge.forge.requests import ForgeRequestVerifier

log = logging.getLogger("pledge.forge.lifecycle_events")

INSTALLED = "avi:forge:installed:app"
UPGRADED = "avi:forge:upgraded:app"
MAX_BODY_BYTES: Final = 64 * 1024
"""Lifecycle payloads are a few hundred bytes; anything past this is refused unread."""


@dataclass(frozen=True, slots=True)
class LifecycleModule:
    """A lifecycle endpoint as manifest.yml declares it: its ``endpoint`` module and the module delivering to it."""

    endpoint_key: str
    module_key: str

    def check(self, invocation: Invocation) -> None:
        """Refuse a FIT minted for another module (``wrong_module``)."""
        keys = (self.endpoint_key, self.module_key)
        context = invocation.claims.get("context")
        context_key = context.get("moduleKey") if isinstance(context, dict) else None
        if invocation.module_key not in keys or (context_key is not None and context_key not in keys):
            message = f"this endpoint takes FITs minted for {self.module_key} only"
            raise Refused("wrong_module", message, status_code=403)


INSTALLED_MODULE = LifecycleModule("pledge-installed", "pledge-installed-trigger")
UPGRADED_MODULE = LifecycleModule("pledge-upgraded", "pledge-upgraded-trigger")
PRE_UNINSTALL_MODULE = LifecycleModule("pledge-pre-uninstall", "pledge-pre-uninstall-hook")


class ForgeLifecycle:
    def __init__(self, verifier: ForgeRequestVerifier) -> None:
        self._verifier = verifier
        self._runtime = verifier.runtime

    async def installed(self, request: Request) -> Response:
        return await self._trigger(request, INSTALLED, INSTALLED_MODULE)

    async def upgraded(self, request: Request) -> Response:
        return await self._trigger(request, UPGRADED, UPGRADED_MODULE)

    async def pre_uninstall(self, request: Request) -> Response:
        invocation, _payload = await self._verified(request, PRE_UNINSTALL_MODULE)
        tenant = await run_in_threadpool(self._uninstall, invocation)
        log.info("Forge preUninstall: tenant %s uninstalled, grace started", tenant.id)
        return JSONResponse({"status": "uninstalled"})

    async def _trigger(self, request: Request, expected: str, module: LifecycleModule) -> Response:
        invocation, payload = await self._verified(request, module)
        event = payload.get("eventType", expected)
        if event != expected:
            raise Refused(
                "wrong_event",
                f"this endpoint takes {expected} only: check the trigger in manifest.yml",
                status_code=400,
            )
        tenant, created = await run_in_threadpool(self._install, invocation)
        retry = payload.get("retryContext")
        attempt = retry.get("retryCount") if isinstance(retry, dict) else 0
        log.info(
            "Forge %s: tenant %s %s (attempt %s)",
            expected,
            tenant.id,
            "created" if created else "known",
            attempt if type(attempt) is int else "?",
        )
        return JSONResponse({"status": "installed" if expected == INSTALLED else "upgraded"})

    async def _verified(self, request: Request, module: LifecycleModule) -> tuple[Invocation, dict[str, Any]]:
        """The FIT verified and minted for ``module``, then the body: bounded, a strict JSON object."""
        invocation = await self._verifier.fit.verify(request.headers.get("authorization"))
        module.check(invocation)
        return invocation, await read_json_object(request, MAX_BODY_BYTES)

    def _install(self, invocation: Invocation) -> tuple[Tenant, bool]:
        self._verifier.forget(invocation.installation_id)
        tenants = self._runtime.tenants
        try:
            tenant = tenants.by_installation_id(self._verifier.app.key, invocation.installation_id)
        except TenantNotFound:
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
            raise Refused(
                "installation_unknown",
                "preUninstall for an installation that is no tenant here: nothing to do",
                status_code=404,
            ) from None
        if tenant.region != self._runtime.settings.region:
            raise self._verifier.misdirected(tenant.region)
        if tenant.state in (TenantState.UNINSTALLED, TenantState.DELETING, TenantState.PURGED):
            return tenant
        return self._runtime.tenants.transition(tenant.id, TenantState.UNINSTALLED)
