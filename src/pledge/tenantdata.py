"""Everything one tenant owns, as one thing: its rows in every table that holds them, exported, imported or deleted
together (S1, S7).

A runtime has one :class:`TenantDataSet` (``runtime.tenant_data``). It starts with the tenant's registry row, the
order of its lifecycle events, its wrapped data keys and the store's records; a product or subsystem adds the
tables it keeps per tenant with :meth:`TenantDataSet.register` (Forge its installations). Realm migration moves a
tenant with it; backups, purge and portability are to use the same set, so none of them forgets a table.

An export is a JSON-able document, ``{"format": "pledge-tenant-data/1", "tenantId": ..., "parts": {name: [row,
...]}}`` (docs/storage-format.md, "Tenant data"). Rows are exported as stored: ciphertexts, blind indexes and data keys
wrapped by this deployment's KEK, so a document reveals what the database reveals and opens only with that KEK.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

from sqlalchemy import Column, Connection, Engine, Table, TypeDecorator, delete, insert, select
from sqlalchemy.exc import IntegrityError, StatementError

from pledge.errors import ConfigurationError, PledgeError

FORMAT: Final = "pledge-tenant-data/1"
_TENANT_ID = re.compile(r"[0-9a-f]{32}")
_INTEGERS = range(-(2**63), 2**63)  # what a BIGINT column holds, on either engine

Row = dict[str, object]
"""A row as its part reads and writes it: column name → ``str``, ``int``, ``float``, ``bool``, ``None``, ``bytes``
or an aware ``datetime``."""


class TenantDataError(PledgeError):
    """A document that cannot be imported here; the message says why, without any value of the document."""


class TenantDataConflict(TenantDataError):
    """The tenant, or a row the document holds, is here already."""


class TenantData(Protocol):
    """One place a tenant's rows live. ``export_rows`` gives them in a stable order; ``import_rows`` refuses a row of
    another tenant; ``delete_rows`` answers how many it deleted. All three run in the set's transaction."""

    @property
    def name(self) -> str: ...

    def export_rows(self, connection: Connection, tenant_id: str) -> list[Row]: ...

    def import_rows(self, connection: Connection, tenant_id: str, rows: Sequence[Row]) -> None: ...

    def delete_rows(self, connection: Connection, tenant_id: str) -> int: ...


@runtime_checkable
class ExportsInBatches(Protocol):
    """A part that reads many tenants' rows in one query (a backup reads every tenant)."""

    def export_rows_of(self, connection: Connection, tenant_ids: Sequence[str]) -> dict[str, list[Row]]:
        """Each tenant's rows, as :meth:`TenantData.export_rows` gives them."""
        ...


@dataclass(frozen=True, slots=True)
class TableRows:
    """Every row of ``table`` whose ``tenant_column`` is the tenant's id, as stored, ordered by primary key."""

    table: Table
    tenant_column: str = "tenant_id"

    @property
    def name(self) -> str:
        return self.table.name

    def export_rows(self, connection: Connection, tenant_id: str) -> list[Row]:
        order = list(self.table.primary_key.columns) or list(self.table.columns)
        query = select(self.table).where(self.table.c[self.tenant_column] == tenant_id).order_by(*order)
        return [dict(row) for row in connection.execute(query).mappings()]

    def export_rows_of(self, connection: Connection, tenant_ids: Sequence[str]) -> dict[str, list[Row]]:
        tenant = self.table.c[self.tenant_column]
        order = list(self.table.primary_key.columns) or list(self.table.columns)
        grouped: dict[str, list[Row]] = {tenant_id: [] for tenant_id in tenant_ids}
        for row in connection.execute(
            select(self.table).where(tenant.in_(tenant_ids)).order_by(tenant, *order)
        ).mappings():
            grouped[row[self.tenant_column]].append(dict(row))
        return grouped

    def import_rows(self, connection: Connection, tenant_id: str, rows: Sequence[Row]) -> None:
        columns = self.table.columns
        for row in rows:
            if row.get(self.tenant_column) != tenant_id:
                raise TenantDataError(f"a row of {self.name} belongs to another tenant: nothing was imported")
            if not row.keys() <= set(columns.keys()):
                raise TenantDataError(f"a row of {self.name} has columns the table does not: nothing was imported")
            unfit = sorted(name for name, value in row.items() if not _fits(columns[name], value))
            if unfit:
                raise TenantDataError(
                    f"the values of {self.name}.{unfit} do not fit their columns: nothing was imported"
                )
        if rows:
            connection.execute(insert(self.table), list(rows))

    def delete_rows(self, connection: Connection, tenant_id: str) -> int:
        return connection.execute(delete(self.table).where(self.table.c[self.tenant_column] == tenant_id)).rowcount


class TenantDataSet:
    """The parts of a tenant's data, in the order they are imported: each after the parts its rows refer to."""

    def __init__(self, engine: Engine, parts: Iterable[TenantData]) -> None:
        self._engine = engine
        self._parts: dict[str, TenantData] = {}
        self._lock = threading.Lock()
        for part in parts:
            self.register(part)

    def register(self, part: TenantData) -> None:
        """Export, import and delete ``part`` with its tenant from now on, after the parts registered before it.

        Registering a part again changes nothing; another part under a name already taken is refused.
        """
        with self._lock:
            known = self._parts.setdefault(part.name, part)
        if known != part:
            raise ConfigurationError(f"two parts of tenant data are named {part.name!r}: rename one")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(part.name for part in self._snapshot())

    def without(self, *names: str) -> TenantDataSet:
        """A set of the same parts but ``names``, for a caller that carries those itself."""
        parts = self._snapshot()
        unknown = set(names) - {part.name for part in parts}
        if unknown:
            raise KeyError(f"no parts named {sorted(unknown)}")
        return TenantDataSet(self._engine, [part for part in parts if part.name not in names])

    def on(self, engine: Engine) -> TenantDataSet:
        """The same parts over another database (a restore's target)."""
        return TenantDataSet(engine, self._snapshot())

    def export(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's rows in every part, read in one transaction (one snapshot on PostgreSQL too)."""
        with self._connect() as connection:
            return self.export_in(connection, tenant_id)

    def export_in(self, connection: Connection, tenant_id: str) -> dict[str, Any]:
        """The tenant's rows in every part, read through ``connection``: a caller exporting many tenants from one
        snapshot (a backup) holds the transaction."""
        parts = {part.name: _encoded(part.export_rows(connection, tenant_id)) for part in self._snapshot()}
        return {"format": FORMAT, "tenantId": tenant_id, "parts": parts}

    def export_many_in(self, connection: Connection, tenant_ids: Sequence[str]) -> list[dict[str, Any]]:
        """:meth:`export_in` of each tenant, in order, a part that can read them all at once doing so in one query;
        the rows as read (bytes and datetimes not yet tagged: the backup writes the tags as it serialises)."""
        by_part = {
            part.name: part.export_rows_of(connection, tenant_ids)
            if isinstance(part, ExportsInBatches)
            else {tenant_id: part.export_rows(connection, tenant_id) for tenant_id in tenant_ids}
            for part in self._snapshot()
        }
        return [
            {
                "format": FORMAT,
                "tenantId": tenant_id,
                "parts": {name: rows[tenant_id] for name, rows in by_part.items()},
            }
            for tenant_id in tenant_ids
        ]

    def import_(self, document: object) -> str:
        """Write an exported tenant back, all parts or none; the tenant's id. The tenant must not be here already."""
        parts = self._snapshot()
        tenant_id, rows = _read(document, {part.name for part in parts})
        try:
            with self._engine.begin() as connection:
                for part in parts:
                    part.import_rows(connection, tenant_id, rows.get(part.name, []))
        except IntegrityError:
            raise TenantDataConflict(f"tenant {tenant_id}, or a row of it, is here already: delete it first") from None
        except StatementError:
            raise TenantDataError(f"the document's rows of tenant {tenant_id} do not fit this deployment") from None
        return tenant_id

    def replace(self, document: object) -> str:
        """Delete the tenant's rows from every part and write the document's, in one transaction: all or nothing,
        no other tenant touched (a single-tenant restore). The tenant's id."""
        parts = self._snapshot()
        tenant_id, rows = _read(document, {part.name for part in parts})
        try:
            with self._engine.begin() as connection:
                for part in reversed(parts):
                    part.delete_rows(connection, tenant_id)
                for part in parts:
                    part.import_rows(connection, tenant_id, rows.get(part.name, []))
        except IntegrityError:
            raise TenantDataConflict(f"a row of tenant {tenant_id} conflicts with another tenant's") from None
        except StatementError:
            raise TenantDataError(f"the document's rows of tenant {tenant_id} do not fit this deployment") from None
        return tenant_id

    def delete(self, tenant_id: str) -> int:
        """Delete the tenant's rows from every part in one transaction, dependents first; how many were deleted."""
        with self._engine.begin() as connection:
            return sum(part.delete_rows(connection, tenant_id) for part in reversed(self._snapshot()))

    def _snapshot(self) -> tuple[TenantData, ...]:
        with self._lock:
            return tuple(self._parts.values())

    def _connect(self) -> Connection:
        connection = self._engine.connect()
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        return connection


def _fits(column: Column[Any], value: object) -> bool:
    """Whether ``value`` is of the column's type: checked here, as drivers differ in what they accept or coerce."""
    if value is None:
        return bool(column.nullable)
    kind = column.type
    expected = (kind.impl_instance if isinstance(kind, TypeDecorator) else kind).python_type
    if expected is float:
        return type(value) in (int, float)
    return type(value) is expected  # a bool is no integer here, an integer no bool


def _read(document: object, known: set[str]) -> tuple[str, dict[str, list[Row]]]:
    """The tenant id and decoded rows of an exported document, refused unless it has exactly the documented shape."""
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise TenantDataError(f"not a {FORMAT} document: export it again with this version")
    tenant_id, parts = document.get("tenantId"), document.get("parts")
    if not isinstance(tenant_id, str) or not _TENANT_ID.fullmatch(tenant_id) or not isinstance(parts, Mapping):
        raise TenantDataError(f"a {FORMAT} document names its tenant (32 hex digits) and its parts")
    unknown = set(parts) - known
    if unknown:
        raise TenantDataError(f"this deployment keeps no tenant data named {sorted(unknown)}: deploy the same apps")
    rows: dict[str, list[Row]] = {}
    for name, listed in parts.items():
        if not isinstance(listed, list) or not all(isinstance(row, Mapping) for row in listed):
            raise TenantDataError(f"the part {name} of the document is not a list of rows")
        rows[name] = [{str(column): _decode(value) for column, value in row.items()} for row in listed]
    return tenant_id, rows


def _encoded(rows: list[Row]) -> list[dict[str, object]]:
    return [{column: _encode(value) for column, value in row.items()} for row in rows]


def _encode(value: object) -> object:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    return value


def _decode(value: object) -> object:
    if value is None or isinstance(value, str | float) or (isinstance(value, int) and value in _INTEGERS):
        return value  # bool is an int
    if isinstance(value, Mapping) and len(value) == 1:
        ((tag, text),) = value.items()
        try:
            if tag == "$bytes" and isinstance(text, str):
                return base64.b64decode(text, validate=True)
            if tag == "$datetime" and isinstance(text, str):
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is not None:
                    return moment
        except (binascii.Error, ValueError):
            pass
    raise TenantDataError("a value of the document is no JSON scalar fit for a column, $bytes or aware $datetime")
