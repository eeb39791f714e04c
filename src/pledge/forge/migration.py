"""S1: a tenant's data lives in one region; a realm migration moves all of it, and leaves nothing behind.

Forge's ``migration:dataResidency`` module calls the remote that holds the tenant (the source) with ``/schedule``,
``/start``, ``GET /status``, ``/commit`` and ``/rollback``. The source exports the tenant — its registry row, its
data keys (re-wrapped by the destination's own KEK) and every row of every table registered with
:func:`register_tenant_data` — seals the bundle with the key the regional deployments share
(``PLEDGE_FORGE_TRANSFER_KEY``) and hands it to the destination deployment named in ``PLEDGE_FORGE_PEERS``.

Until ``/commit`` the destination holds an inert copy (pinned to the source region, so it serves nothing) and the
source refuses the tenant's requests (409), so no write can be lost. ``/commit`` activates the copy, then deletes
the tenant's rows and shreds its keys at the source; the source keeps one line — migration id, installationId,
target realm — so a misrouted request is answered "pinned to EU" (421) instead of "unknown". ``/rollback`` deletes
the destination's copy and lifts the source's lock; a failed transfer is always rolled back, the source still
holding everything.

Ciphertexts move unchanged: their AAD names the tenant id, which a migration keeps; the store's records and blind
indexes are registered here, its digests staying valid because the data keys keep their versions.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Engine, PrimaryKeyConstraint, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pledge.db import UtcDateTime, metadata
from pledge.errors import ConfigurationError, PledgeError
from pledge.forge.installations import forge_installations_table
from pledge.runtime import Runtime
from pledge.store.tables import records_table
from pledge.tenants import tenants_table
from pledge.vault import TransferSeal

log = logging.getLogger("pledge.forge.migration")

_FORMAT = "pledge-realm-transfer/1"

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


class MigrationError(PledgeError):
    """A realm migration step that cannot be done now; the message says why and what to do."""


class TenantData(Protocol):
    """A tenant's rows in one place, as a realm migration moves them. The store registers its tables here."""

    @property
    def name(self) -> str: ...

    def export_rows(self, connection: Connection, tenant_id: str) -> list[dict[str, Any]]: ...

    def import_rows(self, connection: Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None: ...

    def delete_rows(self, connection: Connection, tenant_id: str) -> int: ...


@dataclass(frozen=True, slots=True)
class TableRows:
    """Every row of ``table`` whose ``tenant_column`` is the tenant's id, moved as-is (ciphertexts included)."""

    table: Table
    tenant_column: str = "tenant_id"

    @property
    def name(self) -> str:
        return self.table.name

    def export_rows(self, connection: Connection, tenant_id: str) -> list[dict[str, Any]]:
        query = select(self.table).where(self.table.c[self.tenant_column] == tenant_id)
        return [{key: _encode(value) for key, value in row.items()} for row in connection.execute(query).mappings()]

    def import_rows(self, connection: Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None:
        decoded = [{key: _decode(value) for key, value in row.items()} for row in rows]
        if any(row.get(self.tenant_column) != tenant_id for row in decoded):
            raise MigrationError(f"the bundle's {self.name} rows belong to another tenant: refusing the import")
        if decoded:
            connection.execute(insert(self.table), decoded)

    def delete_rows(self, connection: Connection, tenant_id: str) -> int:
        result = connection.execute(delete(self.table).where(self.table.c[self.tenant_column] == tenant_id))
        return result.rowcount


_TENANT_ROW = TableRows(tenants_table, "id")
_tenant_data: list[TenantData] = [
    TableRows(forge_installations_table),
    TableRows(records_table),
]


def register_tenant_data(part: TenantData) -> None:
    """Move ``part`` with its tenant on a realm migration, e.g. ``register_tenant_data(TableRows(records_table))``."""
    if all(existing.name != part.name for existing in _tenant_data):
        _tenant_data.append(part)


def tenant_data() -> tuple[TenantData, ...]:
    return tuple(_tenant_data)


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
    """Export, import and delete one tenant's data at this deployment."""

    def __init__(self, runtime: Runtime, parts: Sequence[TenantData] | None = None) -> None:
        self._runtime = runtime
        self._parts = tuple(parts) if parts is not None else tenant_data()

    def export(self, tenant_id: str) -> dict[str, Any]:
        with self._runtime.engine.connect() as connection:
            tenant = _TENANT_ROW.export_rows(connection, tenant_id)
            parts = {part.name: part.export_rows(connection, tenant_id) for part in self._parts}
        keys = self._runtime.vault.export_data_keys(tenant_id)
        return {
            "format": _FORMAT,
            "tenantId": tenant_id,
            "tenant": tenant,
            "dataKeys": [{"version": version, "key": base64.b64encode(key).decode()} for version, key in keys],
            "parts": parts,
        }

    def import_(self, bundle: dict[str, Any]) -> str:
        if bundle.get("format") != _FORMAT:
            raise MigrationError(f"unknown transfer format {bundle.get('format')!r}: upgrade this deployment")
        tenant_id = str(bundle["tenantId"])
        unknown = set(bundle["parts"]) - {part.name for part in self._parts}
        if unknown:
            raise MigrationError(f"this deployment does not know the tables {sorted(unknown)}: deploy the same apps")
        keys = [(int(entry["version"]), base64.b64decode(entry["key"])) for entry in bundle["dataKeys"]]
        try:
            with self._runtime.engine.begin() as connection:
                _TENANT_ROW.import_rows(connection, tenant_id, bundle["tenant"])
                for part in self._parts:
                    part.import_rows(connection, tenant_id, bundle["parts"].get(part.name, []))
        except IntegrityError:
            raise MigrationError(f"tenant {tenant_id} or its installation already exists here: roll back") from None
        try:
            self._runtime.vault.import_data_keys(tenant_id, keys)
        except Exception:
            self.delete(tenant_id)
            raise
        return tenant_id

    def delete(self, tenant_id: str) -> None:
        with self._runtime.engine.begin() as connection:
            for part in reversed(self._parts):
                part.delete_rows(connection, tenant_id)
            _TENANT_ROW.delete_rows(connection, tenant_id)
        self._runtime.vault.release_data_keys(tenant_id)


def _encode(value: object) -> object:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict) and len(value) == 1:
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
    return value


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
