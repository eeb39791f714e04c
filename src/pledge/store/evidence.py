"""What each app stores, read for the statement without decrypting anything (S2, S14).

:func:`store_evidence` pairs each app's data manifest (what it declares) with what the database holds (record and
tenant counts per collection). It reads ids and counts only: no key is unwrapped, no value decrypted. Records in a
collection the manifest no longer declares are reported as ``undeclared``: the statement must not claim otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, distinct, func, select

from pledge.store.manifest import Category, DataManifest
from pledge.store.tables import records_table


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
