"""The ``migration:dataResidency`` hooks Forge calls, and the peer endpoints regional deployments call (S1).

Hooks (FIT-authenticated, at the deployment that holds the tenant): ``POST /schedule`` with
``{"migrationId", "targetRealm"}``; ``POST /start``, ``/commit``, ``/rollback`` with ``{"migrationId"}``;
``GET /status?migrationId=…`` answering ``{"status": SCHEDULED|IN_PROGRESS|READY|COMMITTED|ROLLED_BACK|FAILED}``.
A hook acts only on a migration of the installation its FIT names: another installation's migrationId is answered
exactly like one never scheduled. Peer endpoints (``/peer/import|commit|rollback``) take bodies sealed with the
shared transfer key; nothing else authenticates them, and nothing unsealed is accepted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx
from sqlalchemy import update
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.errors import ConfigurationError, PledgeError, Refused
from pledge.forge.migration import Migration, MigrationError, MigrationLog, TenantMover, transfer_seal
from pledge.forge.requests import RESOLUTION_TTL, ForgeRequestVerifier
from pledge.forge.routes import PEER_PATH, Handler
from pledge.mounts import app_base_path
from pledge.tenants import Tenant, tenants_table
from pledge.trust.connect_jwt import read_json_object
from pledge.vault import CiphertextInvalid

log = logging.getLogger("pledge.forge.realm")

MAX_HOOK_BODY_BYTES: Final = 16 * 1024
"""A hook body is a migration id and a realm name; a larger one is refused before it is parsed."""

_MIGRATION_ID = re.compile(r"[A-Za-z0-9:._/-]{1,128}")
_MIGRATION_HEADER = "x-pledge-migration"
SOURCE, DESTINATION = "source", "destination"
# While a migration is in these states the tenant is locked at the source (its calls are answered 409).
_LOCKED = frozenset({"IN_PROGRESS", "READY", "FAILED"})
# What telling the peer deployment something can fail with: it refused, is not configured, or did not answer.
_PEER_FAILURES = (PledgeError, httpx.HTTPError)


class HookRefused(Refused):
    """A hook call from an authentic caller that cannot be done; answered with its status and reason code."""

    def __init__(self, code: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(code, message, status_code=status_code)


def _unknown_migration() -> HookRefused:
    # The one answer for a migrationId this installation never scheduled here, whoever else may have: it names
    # no state, realm or tenant.
    return HookRefused(
        "migration_unknown",
        "this installation has no migration with that migrationId here: call /schedule first",
        status_code=404,
    )


class RealmHooks:
    """``depart(tenant_id, realm)`` is called at the source once the destination has committed, before the tenant's
    rows are deleted here: it records in this deployment's backups that the tenant left, so that no backup made
    before the move can bring it back here (docs/backup-format.md, "Tombstones")."""

    def __init__(self, verifier: ForgeRequestVerifier, depart: Callable[[str, str], None]) -> None:
        self._verifier = verifier
        self._depart = depart
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
        migration_id = _migration_id(payload.get("migrationId"))
        target = self._target_realm(payload.get("targetRealm"))
        here = self._runtime.settings.resolved_forge_region
        scheduled = Migration(
            migration_id, SOURCE, tenant.id, tenant.installation_id or "", here, target, "SCHEDULED", None
        )
        if await run_in_threadpool(self._log.add, scheduled):
            return _status(scheduled)
        existing = await run_in_threadpool(self._log.get, migration_id, SOURCE)
        if existing is None or existing.tenant_id != tenant.id:
            # Forge mints a new id per migration: one that another installation holds is refused without a word
            # about that installation or its migration.
            raise HookRefused(
                "migration_id_taken",
                "this migrationId is already used at this deployment: schedule with a new one",
                status_code=409,
            )
        return _status(existing)  # a retried /schedule: the same answer again

    async def start(self, request: Request) -> Response:
        tenant, payload = await self._verified(request)
        migration = await self._own_migration(tenant, payload.get("migrationId"))
        if migration.state != "SCHEDULED":
            return _status(migration)
        installations = self._verifier.installations
        held = await run_in_threadpool(installations.state, tenant.id)
        if held is not None and held.migration_id not in (None, migration.id):
            raise HookRefused(
                "migration_in_progress",
                "another migration of this installation is under way: commit or roll it back first",
                status_code=409,
            )
        await run_in_threadpool(installations.set_migration, tenant.id, migration.id)
        self._verifier.forget(migration.installation_id)
        started = await run_in_threadpool(self._log.transition, migration, "IN_PROGRESS")
        if started is None:  # a concurrent call moved it first
            current = await self._own_migration(tenant, migration.id)
            if current.state not in _LOCKED:
                await run_in_threadpool(installations.set_migration, tenant.id, None)
            return _status(current)
        return _status(started, background=BackgroundTask(self._transfer, started))

    async def status(self, request: Request) -> Response:
        tenant, _payload = await self._verified(request, with_body=False)
        return _status(await self._own_migration(tenant, request.query_params.get("migrationId")))

    async def commit(self, request: Request) -> Response:
        tenant, payload = await self._verified(request)
        migration = await self._own_migration(tenant, payload.get("migrationId"))
        if migration.state == "COMMITTED":
            return _status(migration)
        if migration.state != "READY":
            raise _wrong_state(migration, f"is {migration.state}, not READY: poll /status first")
        try:
            await self._tell_peer(migration, "commit")
        except _PEER_FAILURES as exc:
            log.warning("realm migration %s: commit not confirmed by %s: %s", migration.id, migration.target_realm, exc)
            raise _peer_unavailable(migration, "commit") from None
        self._verifier.forget(migration.installation_id)
        try:
            await run_in_threadpool(self._depart, migration.tenant_id, migration.target_realm)
        except PledgeError as exc:  # the backup target is unreachable: Forge retries /commit, which finishes it
            log.warning("realm migration %s: departure not recorded in the backups: %s", migration.id, exc)
            raise HookRefused(
                "backup_target_unavailable",
                "the backup target did not record the departure: nothing was deleted here, call again",
                status_code=503,
            ) from None
        await run_in_threadpool(self._mover.delete, migration.tenant_id)
        migration = await self._moved(migration, "COMMITTED")
        log.info(
            "realm migration %s committed: tenant %s left for %s",
            migration.id,
            migration.tenant_id,
            migration.target_realm,
        )
        return _status(migration)

    async def rollback(self, request: Request) -> Response:
        tenant, payload = await self._verified(request)
        migration = await self._own_migration(tenant, payload.get("migrationId"))
        if migration.state == "COMMITTED":
            raise _wrong_state(migration, f"is committed: its data now lives in {migration.target_realm}")
        if migration.state == "ROLLED_BACK":
            return _status(migration)
        detail = None
        if migration.state in _LOCKED:
            try:
                await self._tell_peer(migration, "rollback")
            except _PEER_FAILURES as exc:
                if migration.state == "READY":
                    # The peer holds a whole copy: it must drop it before the source takes the tenant back.
                    log.warning("realm migration %s: rollback not confirmed: %s", migration.id, exc)
                    raise _peer_unavailable(migration, "rollback") from None
                # A failed or unfinished transfer: the source still holds everything, so the tenant comes back now;
                # a copy the peer may have taken is inert there (pinned to this region) and is named for the operator.
                log.warning(
                    "realm migration %s: %s not told to drop a copy: %s", migration.id, migration.target_realm, exc
                )
                detail = f"the {migration.target_realm} deployment did not confirm that it holds no copy"
        rolled_back = await run_in_threadpool(self._log.transition, migration, "ROLLED_BACK", detail)
        if rolled_back is None:  # a concurrent step moved it first: the lock stays as that step left it
            return _status(await self._own_migration(tenant, migration.id))
        if migration.state in _LOCKED:  # a scheduled one never held the lock, which may be another migration's
            await run_in_threadpool(self._verifier.installations.set_migration, migration.tenant_id, None)
            self._verifier.forget(migration.installation_id)
        return _status(rolled_back)

    async def _verified(self, request: Request, *, with_body: bool = True) -> tuple[Tenant, dict[str, Any]]:
        invocation = await self._verifier.fit.verify(request.headers.get("authorization"))
        if invocation.module_type not in (None, "migration:dataResidency"):
            raise Refused("wrong_module", "this FIT was minted for another module", status_code=403)
        tenant = await run_in_threadpool(self._verifier.resolve, invocation, during_migration=True)
        if not with_body:
            return tenant, {}
        try:
            # Bounded before parsing; orjson refuses nesting deeper than 1024 levels instead of recursing.
            return tenant, await read_json_object(request, MAX_HOOK_BODY_BYTES)
        except Refused as exc:
            status_code = 413 if exc.code == "body_too_large" else 400
            raise HookRefused(exc.code, str(exc), status_code=status_code) from None

    async def _own_migration(self, tenant: Tenant, value: object) -> Migration:
        migration = await run_in_threadpool(self._log.get, _migration_id(value), SOURCE)
        if migration is None or migration.tenant_id != tenant.id:
            raise _unknown_migration()
        return migration

    async def _moved(self, migration: Migration, state: str, detail: str | None = None) -> Migration:
        """``migration`` in ``state``, or as a concurrent call left it when that call moved it first."""
        moved = await run_in_threadpool(self._log.transition, migration, state, detail)
        if moved is not None:
            return moved
        current = await run_in_threadpool(self._log.get, migration.id, migration.role)
        return current or migration

    def _target_realm(self, value: object) -> str:
        here = self._runtime.settings.resolved_forge_region
        peers = sorted(realm for realm in self._runtime.settings.forge_peers if realm != here)
        if not isinstance(value, str) or value not in peers:
            raise HookRefused(
                "target_realm_invalid",
                f"targetRealm must be a realm another deployment serves ({', '.join(peers) or 'none configured'}); "
                f"this one serves {here}: list the others in PLEDGE_FORGE_PEERS",
            )
        return value

    async def _transfer(self, migration: Migration) -> None:
        # Every instance must see the lock before the export: their cached resolutions expire within
        # RESOLUTION_TTL, and a request admitted just before it gets as long again to finish its write.
        await asyncio.sleep(2 * RESOLUTION_TTL.total_seconds())
        current = await run_in_threadpool(self._log.get, migration.id, SOURCE)
        if current is None or current.state != "IN_PROGRESS":
            return  # rolled back while it waited
        try:
            bundle = await run_in_threadpool(self._mover.export, migration.tenant_id)
            bundle["sourceRegion"] = self._runtime.settings.region
            await self._tell_peer(migration, "import", bundle)
        except Exception as exc:  # whatever failed, the migration must end FAILED, never stay IN_PROGRESS
            log.warning("realm migration %s failed: %s", migration.id, _failure(exc))
            await run_in_threadpool(self._log.transition, migration, "FAILED", _failure(exc))
            return
        if await run_in_threadpool(self._log.transition, migration, "READY") is None:
            # Rolled back while the bundle travelled: the copy just made must not stay at the peer.
            try:
                await self._tell_peer(migration, "rollback")
            except _PEER_FAILURES as exc:
                log.warning(
                    "realm migration %s: %s not told to drop a copy: %s", migration.id, migration.target_realm, exc
                )

    async def _tell_peer(self, migration: Migration, step: str, document: dict[str, Any] | None = None) -> None:
        seal = transfer_seal(self._runtime)
        body = seal.seal(migration.id, step, document or {"migrationId": migration.id})
        url = f"{self._peer_url(migration.target_realm)}{app_base_path(self._app_key)}{PEER_PATH}/{step}"
        response = await self._runtime.egress.request(
            "POST",
            url,
            content=body,
            headers={_MIGRATION_HEADER: migration.id, "content-type": "application/octet-stream"},
        )
        if response.status_code != 200:
            raise MigrationError(
                "peer_unavailable",
                f"the {migration.target_realm} deployment refused {step}: {response.status_code}",
                status_code=503,
            )

    def _peer_url(self, realm: str) -> str:
        url = self._runtime.settings.forge_peers.get(realm)
        if url is None:
            raise MigrationError(
                "target_realm_invalid",
                f"no deployment serves realm {realm}: add it to PLEDGE_FORGE_PEERS as {realm}=URL",
            )
        return url

    # Source deployment → destination deployment.

    async def peer_import(self, request: Request) -> Response:
        migration_id, bundle = await self._opened(request, "import")
        if await run_in_threadpool(self._log.get, migration_id, DESTINATION) is not None:
            raise MigrationError(
                "migration_id_taken", f"migration {migration_id} was already imported here", status_code=409
            )
        tenant_id = await run_in_threadpool(self._mover.import_, bundle)
        tenant = await run_in_threadpool(self._runtime.tenants.get, tenant_id)
        here = self._runtime.settings.resolved_forge_region
        migration = Migration(
            migration_id, DESTINATION, tenant_id, tenant.installation_id or "", "", here, "READY", None
        )
        if not await run_in_threadpool(self._log.add, migration):
            raise MigrationError(
                "migration_id_taken", f"migration {migration_id} was already imported here", status_code=409
            )
        return JSONResponse({"status": "READY"})

    async def peer_commit(self, request: Request) -> Response:
        # Answered 200 only when the copy is committed here: on that answer the source deletes the tenant.
        migration = await self._destination_migration(request, "commit")
        if migration.state == "READY":
            migration = await self._moved(migration, "COMMITTED")
        if migration.state != "COMMITTED":
            raise _wrong_state(migration, f"is {migration.state} here: it cannot be committed")
        await run_in_threadpool(self._activate, migration)  # idempotent: a retried commit finishes a crashed one
        return _status(migration)

    async def peer_rollback(self, request: Request) -> Response:
        migration = await self._destination_migration(request, "rollback")
        if migration.state == "READY":
            migration = await self._moved(migration, "ROLLED_BACK")
            if migration.state == "ROLLED_BACK":
                self._verifier.forget(migration.installation_id)
                await run_in_threadpool(self._mover.delete, migration.tenant_id)
        if migration.state == "COMMITTED":
            raise _wrong_state(migration, "was committed here: it cannot be rolled back")
        return _status(migration)

    def _activate(self, migration: Migration) -> None:
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
        unauthentic = Refused("transfer_unauthentic", "the transfer is not sealed with this deployment's transfer key")
        try:
            seal = transfer_seal(self._runtime)
        except ConfigurationError as exc:  # refused as a wrong key is: a caller learns nothing of the settings
            log.warning("realm migration %s refused: %s", step, exc)
            raise unauthentic from None
        try:
            return migration_id, seal.open(migration_id, step, await request.body())
        except CiphertextInvalid:
            raise unauthentic from None

    async def _destination_migration(self, request: Request, step: str) -> Migration:
        migration_id, _document = await self._opened(request, step)
        migration = await run_in_threadpool(self._log.get, migration_id, DESTINATION)
        if migration is None:
            return Migration(migration_id, DESTINATION, "", "", "", "", "UNKNOWN", None)
        return migration


def _migration_id(value: object) -> str:
    if not isinstance(value, str) or not _MIGRATION_ID.fullmatch(value):
        raise HookRefused("migration_id_malformed", "migrationId must be 1 to 128 of A-Z a-z 0-9 : . _ / -")
    return value


def _wrong_state(migration: Migration, why: str) -> HookRefused:
    return HookRefused("migration_state_conflict", f"migration {migration.id} {why}", status_code=409)


def _peer_unavailable(migration: Migration, step: str) -> HookRefused:
    return HookRefused(
        "peer_unavailable",
        f"the {migration.target_realm} deployment did not confirm the {step}: nothing changed here, call again",
        status_code=503,
    )


def _failure(exc: Exception) -> str:
    """What /status and the log say about a failed transfer: our own errors' messages, otherwise only the kind
    (a database error's text may quote the tenant's data)."""
    if isinstance(exc, _PEER_FAILURES):
        return str(exc)[:255]
    return f"the transfer failed ({type(exc).__name__})"


def _status(migration: Migration, background: BackgroundTask | None = None) -> Response:
    body = {"migrationId": migration.id, "status": migration.state}
    if migration.detail:
        body["detail"] = migration.detail
    return JSONResponse(body, background=background)
