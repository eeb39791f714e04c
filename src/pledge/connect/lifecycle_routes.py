"""The Connect routes Pledge adds to every app: the descriptor and the four lifecycle callbacks (S3, S6, S11).

A tenant is created or changed only after its lifecycle request verified: ``installed`` and ``uninstalled`` as
RS256 tokens from Atlassian's install-keys server, ``enabled`` and ``disabled`` with the tenant's current shared
secret. Of the install payload only what the tenant registry has columns for is kept (S3): no installer, no site
name, no description; the shared secret is sealed under the tenant's own data key.

A lifecycle token is not bound to its body, so a captured one could otherwise be replayed with another secret or
after an uninstall. Each is accepted once (``token_replayed``), and per tenant an event older than the last one
accepted is refused (``lifecycle_out_of_order``); a re-install that changes the secret, the baseUrl or the
installationId must be newer than every event accepted before it.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pledge.app import App
from pledge.config import is_loopback, under_domain
from pledge.connect.descriptor import DESCRIPTOR_PATH, ICON_PATH, descriptor, lifecycle_path
from pledge.errors import Refused
from pledge.refusal import refused
from pledge.runtime import Runtime
from pledge.tenants import Tenant, TenantNotFound, TenantState, TenantStateError, refuse_while_deleted
from pledge.trust.connect_jwt import (
    app_base_url,
    lifecycle_issued_at,
    read_json_object,
    verify_shared_lifecycle,
    verify_signed_lifecycle,
)
from pledge.trust.jws import UnverifiedToken
from pledge.trust.jwt_policy import MAX_LEEWAY_SECONDS
from pledge.vault import CiphertextInvalid, KeyShredded

log = logging.getLogger("pledge.connect.lifecycle_routes")

MAX_LIFECYCLE_BODY: Final = 64 * 1024
MAX_SHARED_SECRET: Final = 128
_INSTALLATION_ID: Final = re.compile(r"ari:cloud:ecosystem::installation/[A-Za-z0-9-]{1,64}")
_ICON: Final = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="4" '
    'fill="#0c66e4"/><path d="M6 12l4 4 8-8" stroke="#fff" stroke-width="2.5" fill="none"/></svg>'
)


@dataclass(frozen=True, slots=True)
class InstallPayload:
    """The fields of an ``installed`` body that Pledge keeps; everything else in it is dropped unread."""

    client_key: str
    shared_secret: str
    base_url: str
    product_type: str
    installation_id: str | None

    def __repr__(self) -> str:
        return f"InstallPayload(product_type={self.product_type!r})"

    @classmethod
    def parse(cls, body: dict[str, Any], app_key: str, *, allow_http: bool, domains: tuple[str, ...]) -> InstallPayload:
        """``domains``: a site's base URL must be under one of them (development, ``allow_http``: or on loopback)."""
        if body.get("key") != app_key:
            raise _malformed("the install payload is for another app key")
        client_key = _text(body, "clientKey", 255)
        secret = _text(body, "sharedSecret", MAX_SHARED_SECRET)
        base_url = _text(body, "baseUrl", 2048).rstrip("/")
        parts = urlsplit(base_url)
        schemes = ("https", "http") if allow_http else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise _malformed(f"the install payload's baseUrl must be an {schemes[0]} URL")
        if not (under_domain(parts.hostname, domains) or (allow_http and is_loopback(parts.hostname))):
            raise _malformed("the install payload's baseUrl is not on an Atlassian product domain")
        product_type = _text(body, "productType", 32)
        installation_id = body.get("installationId")
        if installation_id is not None and not (
            isinstance(installation_id, str) and _INSTALLATION_ID.fullmatch(installation_id)
        ):
            raise _malformed("the install payload's installationId is not an installation ARI")
        return cls(client_key, secret, base_url, product_type, installation_id)


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _malformed(f"the lifecycle payload needs a '{name}' of 1 to {limit} characters")
    return value


def connect_routes(app: App, runtime: Runtime) -> list[Route]:
    """The descriptor, its icon, and the lifecycle callbacks of ``app``."""
    lifecycle = ConnectLifecycle(app.key, runtime)
    document = descriptor(app, app_base_url(runtime, app.key))

    async def serve_descriptor(_request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def serve_icon(_request: Request) -> Response:
        return Response(_ICON, media_type="image/svg+xml")

    return [
        Route(DESCRIPTOR_PATH, serve_descriptor, methods=["GET"]),
        Route(ICON_PATH, serve_icon, methods=["GET"]),
        Route(lifecycle_path("installed"), lifecycle.installed, methods=["POST"]),
        Route(lifecycle_path("uninstalled"), lifecycle.uninstalled, methods=["POST"]),
        Route(lifecycle_path("enabled"), lifecycle.enabled, methods=["POST"]),
        Route(lifecycle_path("disabled"), lifecycle.disabled, methods=["POST"]),
    ]


class ConnectLifecycle:
    """Handles one app's lifecycle callbacks; every failure is a JSON refusal with a reason code and its status
    (401 unauthentic, 400 a payload Pledge cannot take, 413 too large)."""

    def __init__(self, app_key: str, runtime: Runtime) -> None:
        self._app_key = app_key
        self._runtime = runtime

    async def installed(self, request: Request) -> Response:
        try:
            body = await read_json_object(request, MAX_LIFECYCLE_BODY)
            settings = self._runtime.settings
            payload = InstallPayload.parse(
                body, self._app_key, allow_http=settings.dev_mode, domains=settings.tenant_domains
            )
            token = await verify_signed_lifecycle(request, body, self._app_key, self._runtime)
            await run_in_threadpool(self._use_once, token)
        except Refused as exc:
            return refused(request.scope, exc)
        try:
            tenant = await run_in_threadpool(self._record_install, payload, lifecycle_issued_at(token.claims))
        except Refused as exc:
            return refused(request.scope, exc)
        finally:
            self._runtime.connect_tenants.forget(self._app_key, payload.client_key)
        log.info("installed: tenant %s (%s)", tenant.id, tenant.state.value)
        return Response(status_code=204)

    async def uninstalled(self, request: Request) -> Response:
        try:
            body = await read_json_object(request, MAX_LIFECYCLE_BODY)
            token = await verify_signed_lifecycle(request, body, self._app_key, self._runtime)
            await run_in_threadpool(self._use_once, token)
        except Refused as exc:
            return refused(request.scope, exc)
        client_key = body["clientKey"]  # verified equal to the token's issuer
        try:
            tenant = await run_in_threadpool(
                self._move, client_key, TenantState.UNINSTALLED, lifecycle_issued_at(token.claims)
            )
        except (TenantNotFound, TenantStateError):
            return Response(status_code=204)  # unknown or already purged: nothing of that site is held
        except Refused as exc:
            return refused(request.scope, exc)
        finally:
            self._runtime.connect_tenants.forget(self._app_key, client_key)
        log.info("uninstalled: tenant %s", tenant.id)
        return Response(status_code=204)

    async def enabled(self, request: Request) -> Response:
        return await self._switch(request, TenantState.ENABLED)

    async def disabled(self, request: Request) -> Response:
        return await self._switch(request, TenantState.DISABLED)

    async def _switch(self, request: Request, state: TenantState) -> Response:
        try:
            body = await read_json_object(request, MAX_LIFECYCLE_BODY)
            connect, token = await verify_shared_lifecycle(request, body, self._app_key, self._runtime)
            await run_in_threadpool(self._use_once, token)
        except Refused as exc:
            return refused(request.scope, exc)
        try:
            tenant = await run_in_threadpool(
                self._move_tenant, connect.tenant, state, lifecycle_issued_at(token.claims)
            )
        except Refused as exc:
            return refused(request.scope, exc)
        except TenantStateError:
            return JSONResponse(
                {"error": "tenant_state_conflict", "message": f"the app cannot be {state.value}: it is uninstalled"},
                status_code=409,
            )
        finally:
            self._runtime.connect_tenants.forget(self._app_key, body["clientKey"])
        log.info("%s: tenant %s", state.value, tenant.id)
        return Response(status_code=204)

    def _use_once(self, token: UnverifiedToken) -> None:
        """Accept a verified lifecycle token once: a second sighting within its lifetime is a replay."""
        expires_at = float(token.claims["exp"]) + MAX_LEEWAY_SECONDS  # checked an integer by check_connect_times
        if not self._runtime.tenants.use_lifecycle_token(token.raw, expires_at):
            raise Refused("token_replayed", "this lifecycle token was already used: each is accepted once")

    def _in_order(self, tenant: Tenant, issued_at: float, *, changes_identity: bool = False) -> None:
        """Refuse an event older than the tenant's last accepted one (as old, if it changes who the tenant is)."""
        if not self._runtime.tenants.order_lifecycle_event(tenant.id, issued_at, strictly_newer=changes_identity):
            raise Refused(
                "lifecycle_out_of_order",
                "a newer lifecycle event of this installation was already accepted; this one is refused",
            )

    def _move(self, client_key: str, state: TenantState, issued_at: float) -> Tenant:
        return self._move_tenant(self._runtime.tenants.by_client_key(self._app_key, client_key), state, issued_at)

    def _move_tenant(self, tenant: Tenant, state: TenantState, issued_at: float) -> Tenant:
        self._in_order(tenant, issued_at)
        return self._runtime.tenants.transition(tenant.id, state)

    def _changes_identity(self, tenant: Tenant, payload: InstallPayload) -> bool:
        """Whether a re-install would hand the tenant to a new secret, site URL or Forge installation."""
        if tenant.base_url != payload.base_url:
            return True
        if payload.installation_id is not None and tenant.installation_id not in (None, payload.installation_id):
            return True
        try:
            held = self._runtime.tenants.shared_secret(tenant.id)
        except (TenantNotFound, KeyShredded, CiphertextInvalid):
            return True
        return not hmac.compare_digest(held.encode(), payload.shared_secret.encode())

    def _same_site(self, payload: InstallPayload) -> Tenant:
        registry = self._runtime.tenants
        try:
            return registry.by_client_key(self._app_key, payload.client_key)
        except TenantNotFound:
            if payload.installation_id is None:
                raise
        tenant = registry.by_installation_id(self._app_key, payload.installation_id)
        if tenant.client_key is not None:
            raise TenantNotFound(f"installation of tenant {tenant.id} already belongs to another clientKey")
        return registry.update_identity(tenant.id, client_key=payload.client_key)

    def _record_install(self, payload: InstallPayload, issued_at: float) -> Tenant:
        """A new clientKey (first install, or a site import) is a new tenant; a known one is updated in place."""
        registry = self._runtime.tenants
        try:
            tenant = registry.by_client_key(self._app_key, payload.client_key)
            self._in_order(tenant, issued_at, changes_identity=self._changes_identity(tenant, payload))
        except TenantNotFound:
            try:
                tenant = registry.create(
                    app_key=self._app_key,
                    client_key=payload.client_key,
                    base_url=payload.base_url,
                    product_type=payload.product_type,
                    installation_id=payload.installation_id,
                )
            except IntegrityError:
                # A concurrent delivery of the same install created it first, or (Connect on Forge) Forge's
                # installed trigger created this installationId's tenant first: update that one.
                tenant = self._same_site(payload)
            self._in_order(tenant, issued_at)
        refuse_while_deleted(tenant)
        # Re-install: a rotated secret, maybe a new baseUrl after a site rename, maybe the Forge link.
        tenant = registry.update_identity(tenant.id, base_url=payload.base_url, installation_id=payload.installation_id)
        registry.set_shared_secret(tenant.id, payload.shared_secret)
        if tenant.state is TenantState.UNINSTALLED:
            tenant = registry.transition(tenant.id, TenantState.INSTALLED)
        return tenant


def _malformed(message: str) -> Refused:
    """A lifecycle payload Pledge cannot take: 400, whatever the signature said (the sender must fix the payload)."""
    return Refused("body_malformed", message, status_code=400)
