"""S2: tenant-scoped, declared, encrypted storage for apps."""

from pledge.store.evidence import AppEvidence, CollectionEvidence, UndeclaredCollection, store_evidence
from pledge.store.manifest import Category, Collection, DataManifest, Field
from pledge.store.rotation import Rotation, reencrypt_tenant, rotate_tenant_key
from pledge.store.secret import Secret
from pledge.store.tenant_store import (
    ConcurrentUpdate,
    InvalidValue,
    PersonalDataRefused,
    Record,
    RecordNotFound,
    TenantStore,
    UndeclaredData,
)

__all__ = [
    "AppEvidence",
    "Category",
    "Collection",
    "CollectionEvidence",
    "ConcurrentUpdate",
    "DataManifest",
    "Field",
    "InvalidValue",
    "PersonalDataRefused",
    "Record",
    "RecordNotFound",
    "Rotation",
    "Secret",
    "TenantStore",
    "UndeclaredCollection",
    "UndeclaredData",
    "reencrypt_tenant",
    "rotate_tenant_key",
    "store_evidence",
]
