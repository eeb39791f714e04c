"""What each app stores, read for the statement (S2, S4, S14).

:func:`store_evidence` pairs each app's data manifest (what it declares) with what the database holds (record and
tenant counts per collection). It reads ids and counts only: no key is unwrapped, no value decrypted. Records in a
collection the manifest no longer declares are reported as ``undeclared``: the statement must not claim otherwise.

:func:`sample_records` is the other half: it opens a bounded random sample of each tenant's records, so that a check
can see that payloads are ciphertexts of their own tenant and what the stored values really are.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, distinct, func, select

import pledge.store.codec as codec
from pledge.store.data_manifest import Category, DataManifest
from pledge.store.tables import records_table
from pledge.vault import CiphertextInvalid, KeyShredded, Vault


class DeclaringApp(Protocol):
    """What evidence needs of an app (``pledge.app.App`` is one): its key and its data manifest."""

    @property
    def key(self) -> str: ...

    @property
    def data(self) -> DataManifest: ...


@dataclass(frozen=True, slots=True)
class FieldEvidence:
    name: str
    category: Category
    purpose: str
    indexed: bool


@dataclass(frozen=True, slots=True)
class CollectionEvidence:
    name: str
    purpose: str
    retention_days: int | None
    fields: tuple[FieldEvidence, ...]
    records: int
    tenants: int
    """Tenants with at least one record in the collection."""

    @property
    def categories(self) -> tuple[Category, ...]:
        """The categories of data the collection declares, in the order of :class:`Category`."""
        present = {f.category for f in self.fields}
        return tuple(c for c in Category if c in present)


@dataclass(frozen=True, slots=True)
class UndeclaredCollection:
    name: str
    records: int
    tenants: int


@dataclass(frozen=True, slots=True)
class AppEvidence:
    app_key: str
    collections: tuple[CollectionEvidence, ...]
    undeclared: tuple[UndeclaredCollection, ...]

    @property
    def categories(self) -> tuple[Category, ...]:
        present = {c for collection in self.collections for c in collection.categories}
        return tuple(c for c in Category if c in present)

    @property
    def holds_personal_data(self) -> bool:
        """Records exist in a collection that declares personal data fields."""
        return any(c.records and Category.PERSONAL in c.categories for c in self.collections)

    @property
    def records(self) -> int:
        return sum(c.records for c in self.collections) + sum(u.records for u in self.undeclared)


def store_evidence(engine: Engine, apps: Sequence[DeclaringApp]) -> list[AppEvidence]:
    """Per app, in the order given: declared collections with their fields and live counts, and undeclared data."""
    query = select(
        records_table.c.app_key,
        records_table.c.collection,
        func.count(),
        func.count(distinct(records_table.c.tenant_id)),
    ).group_by(records_table.c.app_key, records_table.c.collection)
    with engine.connect() as connection:
        counts = {(app_key, name): (records, tenants) for app_key, name, records, tenants in connection.execute(query)}
    evidence = []
    for app in apps:
        declared = {c.name for c in app.data.collections}
        collections = tuple(
            CollectionEvidence(
                name=c.name,
                purpose=c.purpose,
                retention_days=c.retention_days,
                fields=tuple(FieldEvidence(f.name, f.category, f.purpose, f.indexed) for f in c.fields),
                records=counts.get((app.key, c.name), (0, 0))[0],
                tenants=counts.get((app.key, c.name), (0, 0))[1],
            )
            for c in app.data.collections
        )
        undeclared = tuple(
            UndeclaredCollection(name, records, tenants)
            for (app_key, name), (records, tenants) in sorted(counts.items())
            if app_key == app.key and name not in declared
        )
        evidence.append(AppEvidence(app.key, collections, undeclared))
    return evidence


class Opened(enum.Enum):
    """How a sampled record's payload opened."""

    OPENED = "opened"
    """A valid ciphertext of its own tenant, collection and record id, holding a JSON object."""
    INVALID = "invalid"
    """Not a ciphertext of its own tenant, collection and record id (moved, altered, or never encrypted)."""
    SHREDDED = "shredded"
    """The tenant's data keys are destroyed: the payload can never be read again."""


@dataclass(frozen=True, slots=True)
class SampledRecord:
    tenant_id: str
    collection: str
    record_id: str
    opened: Opened
    values: dict[str, Any] = field(repr=False)
    """The decrypted fields (secrets unwrapped) when ``opened`` is OPENED, else empty. May hold personal data."""


def sample_records(
    engine: Engine,
    vault: Vault,
    app: DeclaringApp,
    *,
    tenants: int = 100,
    per_collection: int = 10,
    rng: random.Random | None = None,
) -> list[SampledRecord]:
    """At most ``per_collection`` random records of each declared collection, for at most ``tenants`` random tenants.

    Tenants are the ones holding records of ``app`` (whether or not the tenant registry still knows them). Each
    payload is opened through the vault with the associated data of its own tenant, collection and id.
    """
    rng = rng or random.SystemRandom()
    records = records_table.c
    with engine.connect() as connection:
        holders = sorted(
            connection.execute(select(records.tenant_id).where(records.app_key == app.key).distinct()).scalars()
        )
        chosen = holders if len(holders) <= tenants else sorted(rng.sample(holders, tenants))
        sample: list[SampledRecord] = []
        for tenant_id in chosen:
            for collection in app.data.collections:
                rows = connection.execute(
                    select(records.id, records.payload)
                    .where(records.tenant_id == tenant_id)
                    .where(records.app_key == app.key)
                    .where(records.collection == collection.name)
                    .order_by(func.random())
                    .limit(per_collection)
                ).all()
                scope = f"{app.key}/{collection.name}"
                sample.extend(_opened(vault, tenant_id, scope, collection.name, row.id, row.payload) for row in rows)
    return sample


def _opened(vault: Vault, tenant_id: str, scope: str, collection: str, record_id: str, payload: bytes) -> SampledRecord:
    try:
        values = codec.open_payload(vault, tenant_id, scope, record_id, payload)
    except KeyShredded:
        return SampledRecord(tenant_id, collection, record_id, Opened.SHREDDED, {})
    except (CiphertextInvalid, ValueError):  # ValueError: decrypted, but not JSON
        return SampledRecord(tenant_id, collection, record_id, Opened.INVALID, {})
    return SampledRecord(tenant_id, collection, record_id, Opened.OPENED, values)


def records_of(engine: Engine, tenant_ids: Sequence[str]) -> int:
    """How many records of any app the store holds for these tenants (ids only: nothing is opened)."""
    if not tenant_ids:
        return 0
    query = select(func.count()).where(records_table.c.tenant_id.in_(tenant_ids))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
