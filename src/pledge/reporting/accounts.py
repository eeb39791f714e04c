"""The accountIds a tenant's records hold, and their erasure when an account is closed (S2).

An app declares where it keeps Atlassian accountIds: ``Field(..., Category.PERSONAL, ..., account_id=True)`` in its
data manifest; the store refuses anything but accountIds there. These functions walk the records of the collections
that declare such fields through the tenant's store (so both engines, and values opened with the tenant's key):

- :func:`stored_accounts`: each accountId held, with the latest ``updated_at`` of a record holding it, which is when
  the app last wrote what it keeps about that person (Atlassian's ``updatedAt``).
- :func:`erase_accounts`: every record holding a closed account loses it (a field holding that id alone becomes
  None, a list drops it) and its other personal data fields are cleared, since Pledge cannot tell whose they are.
  Records are kept: their content and configuration are the site's, not that person's. An app that wants such
  records gone deletes them in its ``on_account_closed`` hook, which runs first.
"""

from __future__ import annotations

from collections.abc import Collection as Container
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pledge.store import Record, RecordNotFound, TenantStore
from pledge.store.data_manifest import Collection, DataManifest, account_ids_in

PAGE_SIZE = 500


def stored_accounts(store: TenantStore, manifest: DataManifest) -> dict[str, datetime]:
    """Every accountId the tenant's account fields hold → the latest time a record holding it was written."""
    seen: dict[str, datetime] = {}
    for collection in _holding_accounts(manifest):
        for record in _records(store, collection.name):
            for account in _accounts_of(collection, record):
                if account not in seen or seen[account] < record.updated_at:
                    seen[account] = record.updated_at
    return seen


def erase_accounts(store: TenantStore, manifest: DataManifest, closed: Container[str]) -> int:
    """Erase the ``closed`` accounts from every record that holds one; returns how many records changed."""
    changed = 0
    for collection in _holding_accounts(manifest):
        for record in _records(store, collection.name):
            changes = _erasure(collection, record, closed)
            if not changes:
                continue
            try:
                store.update(collection.name, record.id, changes)
            except RecordNotFound:
                continue  # deleted since it was read (by the app's hook, or a request): nothing left to erase
            changed += 1
    return changed


def _holding_accounts(manifest: DataManifest) -> Iterator[Collection]:
    return (collection for collection in manifest.collections if collection.account_fields)


def _records(store: TenantStore, collection: str) -> Iterator[Record]:
    after: str | None = None
    while True:
        page = store.list(collection, limit=PAGE_SIZE, after=after)
        yield from page
        if len(page) < PAGE_SIZE:
            return
        after = page[-1].id


def _accounts_of(collection: Collection, record: Record) -> Iterator[str]:
    for declared in collection.account_fields:
        # A value written before the field was declared an account field may be anything: it holds no accountId.
        yield from account_ids_in(record.get(declared.name)) or ()


def _erasure(collection: Collection, record: Record, closed: Container[str]) -> dict[str, Any]:
    """The field values that erase ``closed`` accounts from ``record``; empty when it holds none of them."""
    changes: dict[str, Any] = {}
    for declared in collection.account_fields:
        value = record.get(declared.name)
        held = account_ids_in(value) or ()
        if any(account in closed for account in held):
            changes[declared.name] = None if isinstance(value, str) else [a for a in held if a not in closed]
    if changes:
        for declared in collection.personal_fields:
            if not declared.account_id and record.get(declared.name) is not None:
                changes[declared.name] = None
    return changes
