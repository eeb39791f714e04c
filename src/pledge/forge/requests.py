"""The verifier of ``Auth.FORGE`` routes: FIT verified, tenant resolved, its region checked, tokens held (S1, S11).

A request is served only when its FIT verifies, its installation is a tenant of this deployment that is pinned to
this deployment's region, and no realm migration of that tenant is under way. Everything else is refused with a
reason code: 401 (not authentic), 403 (tenant cannot be served), 421 (tenant pinned to another region), 409
(migration under way). A body is bounded before the handler sees it (413 ``body_too_large``), and a product event's
body must be a strict JSON object (400 ``body_malformed``), as on Connect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pledge.app import App, RequestContext
from pledge.bodies import MAX_BODY_BYTES
from pledge.errors import PledgeError, Refused
from pledge.forge.api_client import ForgeApiClient, Token, TokenCache, TokenUnavailable
from pledge.forge.installations import Installations, InstallationState
from pledge.forge.migration import departed_to
from pledge.forge_config import ForgeConfig
from pledge.tenants import Tenant, TenantNotFound
from pledge.trust.connect_jwt import read_body, read_json_object
from pledge.trust.fit_uses import SharedTokenUses
from pledge.trust.forge_fit import FitVerifier, Invocation, JwksCache
from pledge.trust.identity import Identity, raw_header

if TYPE_CHECKING:
    from pledge.runtime import Runtime

# A resolved tenant is reused for this long: tenant and installation rows are read at most once a second per
# installation and process, not on every call. Changes this process makes drop the entry at once; a realm migration
# waits longer than this before exporting (see pledge.forge.realm), so no instance still serves a locked tenant.
RESOLUTION_TTL = timedelta(seconds=1)
_RESOLUTION_CACHE_LIMIT = 100_000

SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"  # noqa: S105 - a header name
USER_TOKEN_HEADER = "x-forge-oauth-user"  # noqa: S105 - a header name
_SYSTEM_TOKEN_NAME, _USER_TOKEN_NAME = SYSTEM_TOKEN_HEADER.encode(), USER_TOKEN_HEADER.encode()
# ``app.module.type`` of a FIT Forge mints for anything but a frontend (UI module) invocation.
TRIGGER_MODULE_TYPE = "core:endpoint"
# Where a verified call waits for its handler: in the scope, as the checked JSON body does (Starlette's
# ``request.state`` would build a State object per request for it).
FORGE_CALL: Final = "pledge.forge_call"


@dataclass(frozen=True, slots=True)
class _Resolution:
    tenant: Tenant
    state: InstallationState | None
    until: datetime


@dataclass(frozen=True, slots=True)
class ForgeCall:
    """What a Forge handler gets beside its tenant: the verified invocation and clients for the product's API."""

    invocation: Invocation
    tenant: Tenant
    runtime: Runtime = field(repr=False)
    system_token: Token | None = field(repr=False)
    user_token: Token | None = field(repr=False)

    def as_app(self) -> ForgeApiClient:
        """Call the product as the app (``x-forge-oauth-system``; the endpoint needs ``appSystemToken``)."""
        return self._client(self.system_token, "appSystemToken")

    def as_user(self) -> ForgeApiClient:
        """Call the product as the user who invoked (``x-forge-oauth-user``; needs ``appUserToken``)."""
        return self._client(self.user_token, "appUserToken")

    def _client(self, token: Token | None, option: str) -> ForgeApiClient:
        if token is None:
            raise TokenUnavailable(f"Forge sent no token for this call: enable auth.{option} on the endpoint")
        return ForgeApiClient(self.runtime.egress, self.invocation.api_base_url, token, self.runtime.clock)


def app_client(runtime: Runtime, app: App, tenant_id: str) -> ForgeApiClient:
    """Call the product as the app outside a request (a job), until the last app token Forge sent expires."""
    if app.forge is None:
        raise PledgeError(f"app {app.key!r} is not a Forge Remote: it has no app token")
    token, api_base_url = held_app_tokens(runtime, app).get(tenant_id)
    return ForgeApiClient(runtime.egress, api_base_url, token, runtime.clock)


def held_app_tokens(runtime: Runtime, app: App) -> TokenCache:
    """The app tokens Forge sent for ``app``'s tenants, held by the runtime: every verifier of the app offers
    to the same cache, however many are built (the statement's checks build their own)."""
    return runtime.app_states.of(app.key, TokenCache, lambda: TokenCache(runtime.clock))


def forge_call(context: RequestContext) -> ForgeCall:
    """The :class:`ForgeCall` of a request served behind ``Auth.FORGE``."""
    call = context.request.scope.get(FORGE_CALL)
    if not isinstance(call, ForgeCall):
        raise PledgeError("forge_call() is only available on routes declared with auth=Auth.FORGE")
    return call


class ForgeRequestVerifier:
    """One per served app: its JWKS cache, replay memory and resolved tenants live as long as the app is served; the
    app tokens it is sent are the runtime's (:func:`held_app_tokens`)."""

    def __init__(self, app: App, config: ForgeConfig, runtime: Runtime) -> None:
        self.app = app
        self.config = config
        self.runtime = runtime
        settings = runtime.settings
        jwks = JwksCache(settings.forge_jwks_url, runtime.egress, runtime.clock)
        staging = settings.forge_staging_jwks_url
        staging_jwks = None if staging is None else JwksCache(staging, runtime.egress, runtime.clock)
        shared_uses = SharedTokenUses(runtime.engine, runtime.store_threads)
        self.fit = FitVerifier(config.app_id, jwks, runtime.clock, staging_jwks=staging_jwks, shared_uses=shared_uses)
        self.installations = Installations(runtime, app.key, app.product.value)
        self.tokens = held_app_tokens(runtime, app)
        self._resolved: dict[str, _Resolution] = {}
        self._pending: dict[str, asyncio.Future[_Resolution]] = {}
        self._event_paths = frozenset(config.events.values())

    async def __call__(self, request: Request) -> Identity:
        authorization = raw_header(request, b"authorization")
        invocation = await self.fit.verify(None if authorization is None else authorization.decode("latin-1"))
        resolution = self._cached(invocation.installation_id) or await self._refresh(invocation.installation_id)
        tenant = self._admit(resolution, during_migration=False)
        if self._license_changed(resolution, invocation):
            await run_in_threadpool(self._observe, resolution, invocation)
        system, user = self.hold_tokens(request, tenant, invocation)
        await self._read_body(request, invocation)
        request.scope[FORGE_CALL] = ForgeCall(invocation, tenant, self.runtime, system, user)
        return Identity(tenant=tenant, account_id=invocation.principal, claims=invocation.claims)

    async def _read_body(self, request: Request, invocation: Invocation) -> None:
        """Bound the body the handler will read (``RequestContext.json()`` answers from it).

        A product event comes from a trigger, whose FIT names an endpoint module (``core:endpoint``): a FIT minted for
        a UI module is refused there, so a user's own frontend code cannot make up product events. Its body is JSON.
        """
        scope = request.scope
        path, root = scope["path"], scope.get("root_path", "")
        if scope["method"] == "POST" and path.removeprefix(root) in self._event_paths:
            if invocation.module_type != TRIGGER_MODULE_TYPE:
                message = "product events come from a trigger, not from a UI module"
                raise Refused("wrong_module", message, status_code=403)
            await read_json_object(request, MAX_BODY_BYTES)
        else:
            await read_body(request, MAX_BODY_BYTES)

    def resolve(self, invocation: Invocation, *, during_migration: bool = False) -> Tenant:
        """The tenant an invocation is for, read from the database, refused unless this deployment may serve it now."""
        resolution = self._lookup(invocation.installation_id)
        tenant = self._admit(resolution, during_migration=during_migration)
        if self._license_changed(resolution, invocation):
            self._observe(resolution, invocation)
        return tenant

    async def _refresh(self, installation_id: str) -> _Resolution:
        # One database read per installation at a time: when the cached entry expires under load, the concurrent
        # requests for that installation wait for the same read instead of each starting their own.
        pending = self._pending.get(installation_id)
        if pending is None:
            pending = asyncio.ensure_future(run_in_threadpool(self._lookup, installation_id))
            self._pending[installation_id] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(installation_id, None))
        return await asyncio.shield(pending)

    @staticmethod
    def _license_changed(resolution: _Resolution, invocation: Invocation) -> bool:
        return resolution.state is None or resolution.state.license_active != invocation.license_active

    def _observe(self, resolution: _Resolution, invocation: Invocation) -> None:
        self.installations.observe(resolution.tenant, invocation, resolution.state)
        migration_id = resolution.state.migration_id if resolution.state is not None else None
        self._remember(resolution.tenant, InstallationState(invocation.license_active, migration_id))

    def forget(self, installation_id: str | None) -> None:
        """Drop a cached resolution after this process changed the tenant (lifecycle, migration)."""
        if installation_id is not None:
            self._resolved.pop(installation_id, None)

    def _cached(self, installation_id: str) -> _Resolution | None:
        resolution = self._resolved.get(installation_id)
        if resolution is None or resolution.until <= self.runtime.clock.now():
            return None
        return resolution

    def _lookup(self, installation_id: str) -> _Resolution:
        try:
            tenant = self.runtime.tenants.by_installation_id(self.app.key, installation_id)
        except TenantNotFound:
            self.forget(installation_id)
            realm = departed_to(self.runtime.engine, self.app.key, installation_id)
            if realm is not None:
                raise self.misdirected(realm) from None
            raise Refused(
                "unknown_installation",
                "this installation is no tenant here: the avi:forge:installed:app trigger has not been delivered",
                status_code=403,
            ) from None
        return self._remember(tenant, self.installations.state(tenant.id))

    def _remember(self, tenant: Tenant, state: InstallationState | None) -> _Resolution:
        if len(self._resolved) >= _RESOLUTION_CACHE_LIMIT:
            self._resolved.clear()
        resolution = _Resolution(tenant, state, self.runtime.clock.now() + RESOLUTION_TTL)
        if tenant.installation_id is not None:
            self._resolved[tenant.installation_id] = resolution
        return resolution

    def _admit(self, resolution: _Resolution, *, during_migration: bool) -> Tenant:
        tenant, state = resolution.tenant, resolution.state
        if tenant.region != self.runtime.settings.region:
            raise self.misdirected(tenant.region)
        if not tenant.is_active:
            raise Refused("tenant_inactive", f"tenant {tenant.id} is {tenant.state}", status_code=403)
        if state is not None and state.migration_id is not None and not during_migration:
            raise Refused(
                "migration_in_progress",
                f"tenant {tenant.id} is being moved to another region: retry after the migration",
                status_code=409,
            )
        return tenant

    def misdirected(self, elsewhere: str) -> Refused:
        here = f"{self.runtime.settings.region} (Forge realm {self.runtime.settings.resolved_forge_region})"
        return Refused(
            "pinned_elsewhere",
            f"this tenant's data is pinned to {elsewhere}; this deployment serves {here}: call that region's remote",
            status_code=421,
        )

    def hold_tokens(
        self, request: Request, tenant: Tenant, invocation: Invocation
    ) -> tuple[Token | None, Token | None]:
        system = self._token_in(request, _SYSTEM_TOKEN_NAME, invocation)
        user = self._token_in(request, _USER_TOKEN_NAME, invocation)
        if system is not None:
            self.tokens.offer(tenant.id, system, invocation.api_base_url)
        return system, user

    def _token_in(self, request: Request, header: bytes, invocation: Invocation) -> Token | None:
        value = raw_header(request, header)
        if not value:
            return None
        return Token.from_header(value.decode("latin-1"), self.runtime.clock.now(), invocation.expires_at)
