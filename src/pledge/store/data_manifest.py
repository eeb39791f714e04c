"""The data manifest: what an app stores, field by field, with category, purpose and retention (S2, S14).

The manifest is the app's own documentation of its data: the statement's per-app section is rendered from it, and
the store refuses any field it does not declare.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

# Atlassian's user privacy guide: an accountId is 1 to 128 letters, digits, "-" and ":". "unknown" is what the REST
# APIs answer for a deleted or corrupted user, never a person: it is not reported.
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9:-]{1,128}")
_NOT_AN_ACCOUNT = "unknown"

MAX_INDEXED_FIELDS = 4
"""Indexed fields per collection: each has a blind-index column, and a database index, in the records table."""

MAX_ACCOUNTS_PER_VALUE = 1000
"""AccountIds one account field of one record may list."""


class Category(enum.StrEnum):
    CONFIGURATION = "configuration"
    CONTENT = "content"
    PERSONAL = "personal data"
    SECRET = "secret"  # noqa: S105 - a category name


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    category: Category
    purpose: str
    indexed: bool = False
    """Can be filtered on. Personal and secret fields are then looked up through keyed blind indexes."""
    account_id: bool = False
    """Holds Atlassian accountIds: one (a string) or several (a list of strings), or None. Only personal data
    fields may; the store refuses any other value, and Pledge reports these ids to Atlassian's personal data
    reporting API and erases them when the account is closed (docs/personal-data-reporting.md)."""

    def __post_init__(self) -> None:
        _check_name("field", self.name)
        if not self.purpose.strip():
            raise ValueError(f"field {self.name!r} needs a purpose: the statement quotes it")
        if self.account_id and self.category is not Category.PERSONAL:
            raise ValueError(f"field {self.name!r} holds accountIds: declare it Category.PERSONAL")


@dataclass(frozen=True, slots=True)
class Collection:
    name: str
    purpose: str
    fields: tuple[Field, ...]
    retention_days: int | None = None
    """Records older than this are deleted; None keeps them until the tenant is purged."""
    # Looked up on every store call: computed once here rather than by walking the fields each time.
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    indexed_fields: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Names of the indexed fields in declaration order: the order of their blind-index slots."""
    secret_fields: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name("collection", self.name)
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"collection {self.name!r} declares a field twice")
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "indexed_fields", tuple(f.name for f in self.fields if f.indexed))
        object.__setattr__(self, "secret_fields", tuple(f.name for f in self.fields if f.category is Category.SECRET))
        if len(self.indexed_fields) > MAX_INDEXED_FIELDS:
            raise ValueError(
                f"collection {self.name!r} indexes more than {MAX_INDEXED_FIELDS} fields:"
                " keep indexed=True for the fields the app filters on"
            )
        if self.retention_days is not None and self.retention_days < 1:
            raise ValueError(f"collection {self.name!r}: retention_days must be at least 1")

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name)

    @property
    def personal_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.category is Category.PERSONAL)

    @property
    def account_fields(self) -> tuple[Field, ...]:
        """The fields declared ``account_id=True``: where the collection keeps Atlassian accountIds."""
        return tuple(f for f in self.fields if f.account_id)


@dataclass(frozen=True, slots=True)
class DataManifest:
    collections: tuple[Collection, ...] = field(default=())
    _by_name: dict[str, Collection] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.collections]
        if len(names) != len(set(names)):
            raise ValueError("the manifest declares a collection twice")
        object.__setattr__(self, "_by_name", {c.name: c for c in self.collections})

    def collection(self, name: str) -> Collection | None:
        return self._by_name.get(name)

    @property
    def stores_personal_data(self) -> bool:
        return any(c.personal_fields for c in self.collections)

    @property
    def stores_account_ids(self) -> bool:
        """Whether any collection declares a field of Atlassian accountIds: then its tenants are reported."""
        return any(c.account_fields for c in self.collections)


def is_account_id(value: object) -> bool:
    """Whether ``value`` is shaped as an Atlassian accountId (and is not the placeholder ``unknown``)."""
    return isinstance(value, str) and value != _NOT_AN_ACCOUNT and _ACCOUNT_ID.fullmatch(value) is not None


def account_ids_in(value: object) -> tuple[str, ...] | None:
    """The accountIds an account field's value holds (None holds none); None when the value is not one the field
    may hold: an accountId, a list of them, or None."""
    if value is None:
        return ()
    if is_account_id(value):
        return (str(value),)
    if isinstance(value, list | tuple) and len(value) <= MAX_ACCOUNTS_PER_VALUE and all(map(is_account_id, value)):
        return tuple(value)
    return None


def _check_name(kind: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{kind} name {name!r} must be lower_snake_case, at most 63 characters")
