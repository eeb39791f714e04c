"""The store an app's handlers use: one tenant's records, declared, encrypted and screened for personal data (S2).

A :class:`TenantStore` is bound to one app's data manifest and one tenant; no method takes a tenant id, so no call
can reach another tenant's records. Writes are checked against the manifest (undeclared collections and fields are
refused), values of fields not declared personal data are scanned by the PII guard, and every value is sealed
under the tenant's data key before it reaches the database. Filters work on indexed fields only, through keyed
blind indexes: the database never holds an indexed value in clear either.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

import pledge.store.codec as codec
import pledge.store.tables as tables
from pledge.clock import Clock
from pledge.errors import PledgeError
from pledge.store.data_manifest import MAX_ACCOUNTS_PER_VALUE, Category, Collection, DataManifest, account_ids_in
from pledge.store.pii import PiiKind, scan_value
from pledge.store.secret import Secret
from pledge.vault import Vault

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_UPDATE_ATTEMPTS = 10
_ID_LENGTH = 32

_KIND_NAMES = {
    PiiKind.EMAIL: "an e-mail address",
    PiiKind.PHONE: "a phone number",
    PiiKind.PAYMENT_CARD: "a payment card number",
    PiiKind.IBAN: "an IBAN",
    PiiKind.ATLASSIAN_ACCOUNT_ID: "an Atlassian accountId",
}


class UndeclaredData(PledgeError):
    """A collection or field the app's data manifest does not declare."""


class PersonalDataRefused(PledgeError):
    """Personal data in a field that the manifest does not declare as personal data."""


class InvalidValue(PledgeError):
    """A value the store cannot keep: not JSON, or a filter on a field that is not indexed."""


class RecordNotFound(PledgeError):
    """No record with that id in this tenant's collection."""


class ConcurrentUpdate(PledgeError):
    """A record kept changing under an update; the update was not applied."""


@dataclass(frozen=True, slots=True)
class Record:
    """One stored record. Values of SECRET fields are :class:`Secret`; fields never written are absent."""

    id: str
    collection: str
    values: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    revision: int = field(repr=False)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def __repr__(self) -> str:
        # Values may be personal data: a record in a log line shows where it lives, never what it holds.
        return f"Record(id={self.id!r}, collection={self.collection!r}, fields={sorted(self.values)!r})"


class TenantStore:
    """One tenant's records of one app, for jobs and the CLI: ``runtime.store_for(app, tenant)``. Handlers await
    the same calls on ``context.store`` (:class:`~pledge.store.async_store.AsyncTenantStore`)."""

    def __init__(
        self, engine: Engine, vault: Vault, clock: Clock, *, app_key: str, manifest: DataManifest, tenant_id: str
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._clock = clock
        self._app_key = app_key
        self._manifest = manifest
        self._tenant_id = tenant_id

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def app_key(self) -> str:
        return self._app_key

    def create(self, collection: str, values: Mapping[str, Any]) -> Record:
        """Store a new record and return it with its generated id."""
        declared = declared_collection(self._manifest, self._app_key, collection)
        encoded = checked_values(declared, self._app_key, values)
        now = self._clock.now()
        record_id = _new_id(now)
        sealed = codec.seal(
            self._vault, self._tenant_id, self._scope(collection), record_id, encoded, declared.indexed_fields
        )
        with self._engine.begin() as connection:
            tables.insert_record(
                connection,
                {
                    "tenant_id": self._tenant_id,
                    "app_key": self._app_key,
                    "collection": collection,
                    "id": record_id,
                    "key_version": sealed.key_version,
                    "revision": 1,
                    "payload": sealed.payload,
                    "created_at": now,
                    "updated_at": now,
                },
                sealed.digests,
            )
        return Record(record_id, collection, _wrapped(_as_read(values, encoded), declared.secret_fields), now, now, 1)

    def get(self, collection: str, record_id: str) -> Record:
        declared = declared_collection(self._manifest, self._app_key, collection)
        return self._records(declared, [self._row(collection, record_id)])[0]

    def update(self, collection: str, record_id: str, values: Mapping[str, Any]) -> Record:
        """Change the given fields of a record and keep the others; returns the record as stored."""
        declared = declared_collection(self._manifest, self._app_key, collection)
        changes = checked_values(declared, self._app_key, values)
        scope = self._scope(collection)
        for _ in range(_UPDATE_ATTEMPTS):
            _, payload, revision, created_at, _ = self._row(collection, record_id)
            stored = codec.open_payload(self._vault, self._tenant_id, scope, record_id, payload)
            encoded = codec.encode_fields(stored) | changes
            sealed = codec.seal(self._vault, self._tenant_id, scope, record_id, encoded, declared.indexed_fields)
            now = self._clock.now()
            with self._engine.begin() as connection:
                # Compare-and-set on the revision: a concurrent writer (or a key rotation) makes us start over.
                written = connection.execute(
                    tables.UPDATE_RECORD,
                    {
                        **self._key(collection, record_id),
                        "seen": revision,
                        "new_key_version": sealed.key_version,
                        "new_payload": sealed.payload,
                        "new_updated_at": now,
                        **tables.updated_index_values(sealed.digests),
                    },
                ).rowcount
                if written == 1:
                    written_values = _wrapped(codec.decode_record(sealed.plaintext), declared.secret_fields)
                    return Record(record_id, collection, written_values, created_at, now, revision + 1)
        raise ConcurrentUpdate(f"record {record_id} in {collection} kept changing: retry the update")

    def delete(self, collection: str, record_id: str) -> None:
        declared_collection(self._manifest, self._app_key, collection)
        with self._engine.begin() as connection:
            if connection.execute(tables.DELETE_RECORD, self._key(collection, record_id)).rowcount != 1:
                raise _not_found(collection, record_id)

    def list(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> list[Record]:
        """Records in id order (creation order), all ``where`` fields equal to their values (indexed fields only).

        Page through with ``after=<the last id of the previous page>``.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidValue(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        declared = declared_collection(self._manifest, self._app_key, collection)
        filters = self._filters(declared, where or {})
        if filters is None:
            return []
        slots, versions, digests = filters
        parameters = {**self._key(collection), **digests, "limit": limit}
        if after is not None:
            parameters["after"] = after
        query = tables.list_records(slots, versions, after is not None)
        with self._engine.connect() as connection:
            rows = tables.select_records(connection, query, parameters)
        return self._records(declared, rows)

    def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        declared = declared_collection(self._manifest, self._app_key, collection)
        filters = self._filters(declared, where or {})
        if filters is None:
            return 0
        slots, versions, digests = filters
        with self._engine.connect() as connection:
            query = tables.count_records(slots, versions)
            return int(connection.execute(query, {**self._key(collection), **digests}).scalar_one())

    # --- checks ---------------------------------------------------------------------------------

    def _filters(
        self, declared: Collection, where: Mapping[str, Any]
    ) -> tuple[tuple[int, ...], int, dict[str, bytes]] | None:
        """The index slots the conditions filter on, in order, the tenant's key versions, and the digest parameters;
        ``None`` when nothing can match: a tenant without a data key has no records, and a read makes no key."""
        parameters: dict[str, bytes] = {}
        if not where:
            return (), 0, parameters
        indexed = declared.indexed_fields
        checked: list[tuple[str, bytes]] = []
        for name, raw in where.items():
            declared_field = declared.field(name)
            if declared_field is None:
                raise UndeclaredData(
                    f"field {name!r} of collection {declared.name!r} is not declared in the data manifest of app"
                    f" {self._app_key!r}: add Field({name!r}, ...) to it"
                )
            if not declared_field.indexed:
                raise InvalidValue(
                    f"field {declared.name}.{name} is not indexed: declare it Field(..., indexed=True) to filter on it"
                )
            value = _revealed(raw)
            try:
                plaintext = codec.canonical_json(value)
            except (TypeError, ValueError):
                raise InvalidValue(f"filter on {declared.name}.{name}: a {type(value).__name__} is not JSON") from None
            checked.append((name, plaintext))
        latest = self._vault.existing_key_version(self._tenant_id)
        if latest is None:
            return None
        scope = self._scope(declared.name)
        for name, plaintext in checked:
            # Records written before a key rotation finished carry digests under older key versions.
            for version, parameter in enumerate(tables.digest_parameters(indexed.index(name), latest), start=1):
                parameters[parameter] = self._vault.blind_index(self._tenant_id, version, scope, name, plaintext)
        return tuple(sorted(indexed.index(name) for name in where)), latest, parameters

    # --- rows -----------------------------------------------------------------------------------

    def _scope(self, collection: str) -> str:
        return f"{self._app_key}/{collection}"

    def _key(self, collection: str, record_id: str | None = None) -> dict[str, str]:
        return tables.record_key(self._tenant_id, self._app_key, collection, record_id)

    def _row(self, collection: str, record_id: str) -> tuple[Any, ...]:
        with self._engine.connect() as connection:
            row = tables.select_record(connection, self._key(collection, record_id))
        if row is None:
            raise _not_found(collection, record_id)
        return row

    def _records(self, declared: Collection, rows: Sequence[tuple[Any, ...]]) -> builtins.list[Record]:
        """Records from rows of ``tables.RECORD_COLUMNS``, their payloads opened together."""
        scope = self._scope(declared.name)
        opened = codec.open_payloads(self._vault, self._tenant_id, scope, [(row[0], row[1]) for row in rows])
        secrets = declared.secret_fields
        return [
            Record(record_id, declared.name, _wrapped(values, secrets), created_at, updated_at, revision)
            for (record_id, _, revision, created_at, updated_at), values in zip(rows, opened, strict=True)
        ]


# --- the write guard: pure functions of the manifest and the values, run before anything is encrypted or written ---


def declared_collection(manifest: DataManifest, app_key: str, name: str) -> Collection:
    """The collection ``name`` as ``manifest`` declares it; :class:`UndeclaredData` when it does not."""
    declared = manifest.collection(name)
    if declared is None:
        raise UndeclaredData(
            f"collection {name!r} is not declared in the data manifest of app {app_key!r}:"
            f" add Collection({name!r}, ...) to App(data=DataManifest(...))"
        )
    return declared


def checked_values(declared: Collection, app_key: str, values: Mapping[str, Any]) -> dict[str, bytes]:
    """The values of a write, each checked against its declared field and encoded as canonical JSON.

    Refuses an undeclared field (:class:`UndeclaredData`), a value that looks like personal data in a field not
    declared personal data (:class:`PersonalDataRefused`, found by the PII guard), a value that is not JSON, and in
    an account field anything but accountIds (:class:`InvalidValue`).
    """
    encoded: dict[str, bytes] = {}
    for name, raw in values.items():
        declared_field = declared.field(name)
        if declared_field is None:
            raise UndeclaredData(
                f"field {name!r} of collection {declared.name!r} is not declared in the data manifest of app"
                f" {app_key!r}: add Field({name!r}, ...) to it"
            )
        value = _revealed(raw)
        if declared_field.account_id and account_ids_in(value) is None:
            raise InvalidValue(
                f"field {declared.name}.{name} holds Atlassian accountIds: store one accountId (1 to 128 letters,"
                f" digits, '-' and ':'), a list of at most {MAX_ACCOUNTS_PER_VALUE} of them, or None"
            )
        if declared_field.category is not Category.PERSONAL:
            finding = scan_value(value)
            if finding is not None:
                raise PersonalDataRefused(
                    f"field {declared.name}.{name} holds what looks like {_KIND_NAMES[finding.kind]},"
                    f" but it is declared {declared_field.category.value}: declare it Category.PERSONAL in the"
                    " data manifest, or do not store it"
                )
        try:
            encoded[name] = codec.canonical_json(value)
        except (TypeError, ValueError):
            raise InvalidValue(
                f"field {declared.name}.{name}: a {type(value).__name__} is not storable;"
                " store JSON values (str, int, float, bool, None, lists and dicts of them)"
            ) from None
    return encoded


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _as_read(values: Mapping[str, Any], encoded: Mapping[str, bytes]) -> dict[str, Any]:
    """The values of a record just written, as a read of it will return them, in the same (name) order.

    A JSON scalar reads back as itself (floats included: their JSON is their repr), so only other values are decoded
    from their canonical JSON (a tuple reads back as a list); decoding the whole record instead costs about 2 µs.
    """
    read = {}
    for name in sorted(encoded):
        raw = values[name]
        value = _revealed(raw)
        read[name] = value if type(value) in _JSON_SCALARS else codec.decode_record(encoded[name])
    return read


def _revealed(raw: Any) -> Any:
    return raw.reveal() if isinstance(raw, Secret) else raw


def _wrapped(values: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    for secret in secrets:
        if secret in values:
            values[secret] = Secret(values[secret])
    return values


def _new_id(now: datetime) -> str:
    """48 bits of milliseconds then 80 random bits, in hex: unique, unguessable, and sorted by creation time."""
    milliseconds = int(now.timestamp() * 1000) & (2**48 - 1)
    return f"{milliseconds:012x}{os.urandom(10).hex()}"


def _not_found(collection: str, record_id: str) -> RecordNotFound:
    shown = (
        record_id if len(record_id) == _ID_LENGTH and all(c in "0123456789abcdef" for c in record_id) else "<malformed>"
    )
    return RecordNotFound(f"no record {shown} in collection {collection!r} of this tenant")
