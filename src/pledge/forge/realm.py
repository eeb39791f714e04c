"""The ``migration:dataResidency`` hooks Forge calls, and the peer endpoints regional deployments call (S1).

Hooks (FIT-authenticated, at the deployment that holds the tenant): ``POST /schedule`` with
``{"migrationId", "targetRealm"}``; ``POST /start``, ``/commit``, ``/rollback`` with ``{"migrationId"}``;
``GET /status?migrationId=…`` answering ``{"status": SCHEDULED|IN_PROGRESS|READY|COMMITTED|ROLLED_BACK|FAILED}``.
Peer endpoints (``/peer/import|commit|rollback``) take bodies sealed with the shared transfer key; nothing else
authenticates them, and nothing unsealed is accepted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.egress import EgressRefused
from pledge.forge.migration import Migration, MigrationError, MigrationLog, TenantMover, TransferSeal
from pledge.forge.requests import RESOLUTION_TTL, ForgeRequestVerifier
from pledge.forge.routes import PEER_PATH, Handler
from pledge.host import app_base_path
from pledge.serving import AuthenticationFailed
from pledge.tenants import Tenant

log = logging.getLogger("pledge.forge.realm")

_MIGRATION_ID = re.compile(r"[A-Za-z0-9:._/-]{1,128}")
_MIGRATION_HEADER = "x-pledge-migration"
SOURCE, DESTINATION = "source", "destination"


class RealmHooks:
    def __init__(self, verifier: ForgeRequestVerifier) -> None:
        self._verifier = verifier
        self._runtime = verifier.runtime
        self._app_key = verifier.app.key
        self._log = MigrationLog(self._runtime, self._app_key)
        self._mover = TenantMover(self._runtime)

    def hooks(self) -> Iterator[tuple[str, str, Handler]]:
        yield "schedule", "POST", self.schedule
        yield "start", "POST", self.start
        yield "status", "GET", self.status
        yield "commit", "POST", self.commit
        yield "rollback", "POST", self.rollback

    def peer(self) -> Iterator[tuple[str, Handler]]:
        yield "import", self.peer_import
        yield "commit", self.peer_commit
        yield "rollback", self.peer_rollback

    # Forge → source deployment.

    async def schedule(self, request: Request) -> Response:
        tenant, payload = await self._verified(request)
        migration_id, target = _migration_id(payload.get("migrationId")), payload.get("targetRealm")
        here = self._runtime.settings.resolved_forge_region
        if not isinstance(target, str) or target == here:
            raise MigrationError(f"targetRealm must name another realm than this deployment's ({here})")
        self._peer_url(target)
        existing = await run_in_threadpool(self._log.get, migration_id, SOURCE)
        if existing is None:
            migration = Migration(
                migration_id, SOURCE, tenant.id, tenant.installation_id or "", here, target, "SCHEDULED", None
            )
            await run_in_threadpool(self._log.add, migration)
            existing = migration
        return _status(existing)

    async def start(self, request: Request) -> Response:
        _tenant, payload = await self._verified(request)
        migration = await self._source_migration(payload.get("migrationId"))
        if migration.state != "SCHEDULED":
            return _status(migration)
        await run_in_threadpool(self._verifier.installations.set_migration, migration.tenant_id, migration.id)
        self._verifier.forget(migration.installation_id)
        migration = await run_in_threadpool(self._log.set_state, migration, "IN_PROGRESS")
        return _status(migration, background=BackgroundTask(self._transfer, migration))

    async def status(self, request: Request) -> Response:
        await self._verified(request, with_body=False)
        return _status(await self._source_migration(request.query_params.get("migrationId")))

    async def commit(self, request: Request) -> Response:
        _tenant, payload = await self._verified(request)
        migration = await self._source_migration(payload.get("migrationId"))
        if migration.state == "COMMITTED":
            return _status(migration)
        if migration.state != "READY":
            raise MigrationError(f"migration {migration.id} is {migration.state}, not READY: poll /status first")
        await self._tell_peer(migration, "commit")
        self._verifier.forget(migration.installation_id)
        await run_in_threadpool(self._mover.delete, migration.tenant_id)
        migration = await run_in_threadpool(self._log.set_state, migration, "COMMITTED")
        log.info(
            "realm migration %s committed: tenant %s left for %s",
            migration.id,
            migration.tenant_id,
            migration.target_realm,
        )
        return _status(migration)

    async def rollback(self, request: Request) -> Response:
        _tenant, payload = await self._verified(request)
        migration = await self._source_migration(payload.get("migrationId"))
        if migration.state == "COMMITTED":
            raise MigrationError(
                f"migration {migration.id} is committed: its data now lives in {migration.target_realm}"
            )
        if migration.state == "ROLLED_BACK":
            return _status(migration)
        if migration.state != "SCHEDULED":
            await self._tell_peer(migration, "rollback")
        await run_in_threadpool(self._verifier.installations.set_migration, migration.tenant_id, None)
        self._verifier.forget(migration.installation_id)
        migration = await run_in_threadpool(self._log.set_state, migration, "ROLLED_BACK")
        return _status(migration)

    async def _verified(self, request: Request, *, with_body: bool = True) -> tuple[Tenant, dict[str, Any]]:
        invocation = await self._verifier.fit.verify(request.headers.get("authorization"))
        if invocation.module_type not in (None, "migration:dataResidency"):
            raise AuthenticationFailed("wrong_module", "this FIT was minted for another module", status_code=403)
        tenant = await run_in_threadpool(self._verifier.resolve, invocation, during_migration=True)
        try:
            payload = await request.json() if with_body else {}
        except ValueError:
            raise MigrationError("the hook body is not JSON") from None
        if not isinstance(payload, dict):
            raise MigrationError("the hook body is not a JSON object")
        return tenant, payload

    async def _source_migration(self, value: object) -> Migration:
        migration = await run_in_threadpool(self._log.get, _migration_id(value), SOURCE)
        if migration is None:
            raise MigrationError("no such migration here: call /schedule first")
        return migration

    async def _transfer(self, migration: Migration) -> None:
        # Every instance must see the lock before the export: their cached resolutions expire within
        # RESOLUTION_TTL, and a request admitted just before it gets as long again to finish its write.
        await asyncio.sleep(2 * RESOLUTION_TTL.total_seconds())
        try:
            bundle = await run_in_threadpool(self._mover.export, migration.tenant_id)
            bundle["sourceRegion"] = self._runtime.settings.region
            await self._tell_peer(migration, "import", bundle)
        except (MigrationError, EgressRefused, httpx.HTTPError) as exc:
            log.warning("realm migration %s failed: %s", migration.id, exc)
            await run_in_threadpool(self._log.set_state, migration, "FAILED", str(exc)[:255])
            return
        await run_in_threadpool(self._log.set_state, migration, "READY")

    async def _tell_peer(self, migration: Migration, step: str, document: dict[str, Any] | None = None) -> None:
        seal = TransferSeal.from_runtime(self._runtime)
        body = seal.seal(migration.id, step, document or {"migrationId": migration.id})
        url = f"{self._peer_url(migration.target_realm)}{app_base_path(self._app_key)}{PEER_PATH}/{step}"
        response = await self._runtime.egress.request(
            "POST",
            url,
            content=body,
            headers={_MIGRATION_HEADER: migration.id, "content-type": "application/octet-stream"},
        )
        if response.status_code != 200:
            raise MigrationError(f"the {migration.target_realm} deployment refused {step}: {response.status_code}")

    def _peer_url(self, realm: str) -> str:
        url = self._runtime.settings.forge_peers.get(realm)
        if url is None:
            raise MigrationError(f"no deployment serves realm {realm}: add it to PLEDGE_FORGE_PEERS as {realm}=URL")
        return url

    # Source deployment → destination deployment.

    async def peer_import(self, request: Request) -> Response:
        migration_id, bundle = await self._opened(request, "import")
        if await run_in_threadpool(self._log.get, migration_id, DESTINATION) is not None:
            raise MigrationError(f"migration {migration_id} was already imported here")
        tenant_id = await run_in_threadpool(self._mover.import_, bundle)
        tenant = await run_in_threadpool(self._runtime.tenants.get, tenant_id)
        here = self._runtime.settings.resolved_forge_region
        migration = Migration(
            migration_id, DESTINATION, tenant_id, tenant.installation_id or "", "", here, "READY", None
        )
        await run_in_threadpool(self._log.add, migration)
        return JSONResponse({"status": "READY"})

    async def peer_commit(self, request: Request) -> Response:
        migration = await self._destination_migration(request, "commit")
        if migration.state == "READY":
            await run_in_threadpool(self._activate, migration)
            migration = await run_in_threadpool(self._log.set_state, migration, "COMMITTED")
        return _status(migration)

    async def peer_rollback(self, request: Request) -> Response:
        migration = await self._destination_migration(request, "rollback")
        if migration.state == "COMMITTED":
            raise MigrationError(f"migration {migration.id} was committed here: it cannot be rolled back")
        if migration.state == "READY":
            self._verifier.forget(migration.installation_id)
            await run_in_threadpool(self._mover.delete, migration.tenant_id)
            migration = await run_in_threadpool(self._log.set_state, migration, "ROLLED_BACK")
        return _status(migration)

    def _activate(self, migration: Migration) -> None:
        from sqlalchemy import update

        from pledge.tenants import tenants_table

        with self._runtime.engine.begin() as connection:
            connection.execute(
                update(tenants_table)
                .where(tenants_table.c.id == migration.tenant_id)
                .values(region=self._runtime.settings.region, updated_at=self._runtime.clock.now())
            )
        self._verifier.installations.set_migration(migration.tenant_id, None)
        self._verifier.forget(migration.installation_id)

    async def _opened(self, request: Request, step: str) -> tuple[str, dict[str, Any]]:
        migration_id = _migration_id(request.headers.get(_MIGRATION_HEADER))
        seal = TransferSeal.from_runtime(self._runtime)
        try:
            return migration_id, seal.open(migration_id, step, await request.body())
        except MigrationError as exc:
            raise AuthenticationFailed("transfer_unauthentic", str(exc)) from None

    async def _destination_migration(self, request: Request, step: str) -> Migration:
        migration_id, _document = await self._opened(request, step)
        migration = await run_in_threadpool(self._log.get, migration_id, DESTINATION)
        if migration is None:
            return Migration(migration_id, DESTINATION, "", "", "", "", "UNKNOWN", None)
        return migration


def _migration_id(value: object) -> str:
    if not isinstance(value, str) or not _MIGRATION_ID.fullmatch(value):
        raise MigrationError("migrationId is missing or malformed")
    return value


def _status(migration: Migration, background: BackgroundTask | None = None) -> Response:
    body = {"migrationId": migration.id, "status": migration.state}
    if migration.detail:
        body["detail"] = migration.detail
    return JSONResponse(body, background=background)
