"""S1: a tenant's data lives in one region; a realm migration moves all of it, and leaves nothing behind.

Forge's ``migration:dataResidency`` module calls the remote that holds the tenant (the source) with ``/schedule``,
``/start``, ``GET /status``, ``/commit`` and ``/rollback``. The source exports the tenant — its tenant data
(:mod:`pledge.tenantdata`: registry row, store records, Forge installation and every part registered with the runtime)
and its data keys, to be wrapped by the destination's own KEK — seals the bundle with the key the regional
deployments share (``PLEDGE_FORGE_TRANSFER_KEY``) and hands it to the destination deployment named in
``PLEDGE_FORGE_PEERS``.

Until ``/commit`` the destination holds an inert copy (pinned to the source region, so it serves nothing) and the
source refuses the tenant's requests (409), so no write can be lost. ``/commit`` activates the copy, then deletes
the tenant's rows and releases its keys at the source; the source keeps one line — migration id, installationId,
target realm — so a misrouted request is answered "pinned to EU" (421) instead of "unknown". ``/rollback`` deletes
the destination's copy and lifts the source's lock; a failed transfer is always rolled back, the source still
holding everything.

Ciphertexts move unchanged: their AAD names the tenant id, which a migration keeps; blind-index digests stay valid
because the data keys keep their versions.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Column, Engine, PrimaryKeyConstraint, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from pledge.db import UtcDateTime, metadata
from pledge.errors import ConfigurationError, Refused
from pledge.forge.installations import forge_tenant_data
from pledge.runtime import Runtime
from pledge.tenantdata import TenantDataConflict, TenantDataError, TenantDataSet
from pledge.vault import TransferSeal
from pledge.vault.envelope import WrappedDataKeys

log = logging.getLogger("pledge.forge.migration")

BUNDLE_FORMAT = "pledge-realm-transfer/2"
"""The sealed bundle's layout: ``tenantData`` (a ``pledge-tenant-data/1`` document without ``data_keys``) and
``dataKeys`` in the clear, for the destination to wrap. Version 1 carried the tenant's rows in other fields."""

realm_migrations_table = Table(
    "forge_realm_migrations",
    metadata,
    Column("id", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("app_key", String(255), nullable=False),
    Column("installation_id", String(255), nullable=False),
    Column("tenant_id", String(32), nullable=False),
    Column("source_realm", String(8), nullable=False),
    Column("target_realm", String(8), nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", String(255), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("id", "role"),
)


class MigrationError(Refused):
    """A realm migration step that cannot be done now; the reason code and message say why and what to do."""

    def __init__(self, code: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(code, message, status_code=status_code)


def departed_to(engine: Engine, app_key: str, installation_id: str) -> str | None:
    """The realm an installation's data was moved to from here, if it was."""
    query = (
        select(realm_migrations_table.c.target_realm)
        .where(realm_migrations_table.c.app_key == app_key)
        .where(realm_migrations_table.c.installation_id == installation_id)
        .where(realm_migrations_table.c.role == "source")
        .where(realm_migrations_table.c.state == "COMMITTED")
        .order_by(realm_migrations_table.c.updated_at.desc())
    )
    with engine.connect() as connection:
        realm: str | None = connection.execute(query).scalars().first()
    return realm


def transfer_seal(runtime: Runtime) -> TransferSeal:
    """The vault's seal under ``PLEDGE_FORGE_TRANSFER_KEY``, the key the regional deployments share."""
    secret = runtime.settings.forge_transfer_key
    try:
        key = base64.b64decode(secret.get_secret_value(), validate=True) if secret else b""
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise ConfigurationError(
            "realm migration needs PLEDGE_FORGE_TRANSFER_KEY: the same base64 32-byte key in every region "
            "(make one with `openssl rand -base64 32`)"
        )
    return TransferSeal(key)


class TenantMover:
    """A tenant's data for a realm migration: the runtime's tenant data (:mod:`pledge.tenantdata`), its data keys
    unwrapped so that the destination wraps them with its own KEK (the bundle travels sealed: :class:`TransferSeal`).
    """

    def __init__(self, runtime: Runtime, data: TenantDataSet | None = None) -> None:
        self._runtime = runtime
        self._data = forge_tenant_data(runtime) if data is None else data
        self._moved = self._data.without(WrappedDataKeys.name)

    def export(self, tenant_id: str) -> dict[str, Any]:
        keys = self._runtime.vault.export_data_keys(tenant_id)
        return {
            "format": BUNDLE_FORMAT,
            "tenantData": self._moved.export(tenant_id),
            "dataKeys": [{"version": version, "key": base64.b64encode(key).decode()} for version, key in keys],
        }

    def import_(self, bundle: dict[str, Any]) -> str:
        if bundle.get("format") != BUNDLE_FORMAT:
            raise MigrationError(
                "transfer_invalid", f"unknown transfer format {bundle.get('format')!r}: upgrade this deployment"
            )
        keys = _data_keys(bundle.get("dataKeys"))
        try:
            tenant_id = self._moved.import_(bundle.get("tenantData"))
        except TenantDataConflict as exc:
            raise MigrationError("transfer_conflict", f"{exc}: roll back", status_code=409) from None
        except TenantDataError as exc:
            raise MigrationError("transfer_invalid", str(exc)) from None
        try:
            self._runtime.vault.import_data_keys(tenant_id, keys)
        except Exception:
            self.delete(tenant_id)
            raise
        return tenant_id

    def delete(self, tenant_id: str) -> None:
        """Everything of the tenant here, its data keys released (not shredded: its data lives on where it went)."""
        self._data.delete(tenant_id)


def _data_keys(entries: object) -> list[tuple[int, bytes]]:
    if isinstance(entries, list) and all(
        isinstance(entry, dict) and type(entry.get("version")) is int and isinstance(entry.get("key"), str)
        for entry in entries
    ):
        try:
            return [(entry["version"], base64.b64decode(entry["key"], validate=True)) for entry in entries]
        except binascii.Error:
            pass
    raise MigrationError("transfer_invalid", "the transfer's data keys are not a list of versions and keys")


@dataclass(frozen=True, slots=True)
class Migration:
    id: str
    role: str
    tenant_id: str
    installation_id: str
    source_realm: str
    target_realm: str
    state: str
    detail: str | None


_MIGRATION_FIELDS = ("id", "role", "tenant_id", "installation_id", "source_realm", "target_realm", "state", "detail")


class MigrationLog:
    """The ``forge_realm_migrations`` rows of one app at this deployment."""

    def __init__(self, runtime: Runtime, app_key: str) -> None:
        self._runtime = runtime
        self._app_key = app_key

    def get(self, migration_id: str, role: str) -> Migration | None:
        query = (
            select(realm_migrations_table)
            .where(realm_migrations_table.c.id == migration_id)
            .where(realm_migrations_table.c.role == role)
            .where(realm_migrations_table.c.app_key == self._app_key)
        )
        with self._runtime.engine.connect() as connection:
            row = connection.execute(query).mappings().one_or_none()
        if row is None:
            return None
        return Migration(**{name: row[name] for name in _MIGRATION_FIELDS})

    def add(self, migration: Migration) -> bool:
        """Record a new migration; False when its id is already recorded here (by whichever tenant)."""
        now = self._runtime.clock.now()
        try:
            with self._runtime.engine.begin() as connection:
                connection.execute(
                    insert(realm_migrations_table).values(
                        id=migration.id,
                        role=migration.role,
                        app_key=self._app_key,
                        installation_id=migration.installation_id,
                        tenant_id=migration.tenant_id,
                        source_realm=migration.source_realm,
                        target_realm=migration.target_realm,
                        state=migration.state,
                        detail=migration.detail,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def transition(self, migration: Migration, state: str, detail: str | None = None) -> Migration | None:
        """``migration`` moved from the state it was read in to ``state``; None when another call moved it first.

        Hooks, retries and the background transfer may act on one migration at once: each step happens once.
        """
        with self._runtime.engine.begin() as connection:
            result = connection.execute(
                update(realm_migrations_table)
                .where(realm_migrations_table.c.id == migration.id)
                .where(realm_migrations_table.c.role == migration.role)
                .where(realm_migrations_table.c.app_key == self._app_key)
                .where(realm_migrations_table.c.state == migration.state)
                .values(state=state, detail=detail, updated_at=self._runtime.clock.now())
            )
        return replace(migration, state=state, detail=detail) if result.rowcount == 1 else None
