"""S2: tenant-scoped, declared, encrypted storage for apps."""

from pledge.store.async_store import AsyncTenantStore
from pledge.store.data_manifest import Category, Collection, DataManifest, Field
from pledge.store.evidence import (
    AppEvidence,
    CollectionEvidence,
    Opened,
    SampledRecord,
    UndeclaredCollection,
    sample_records,
    store_evidence,
)
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
    "AsyncTenantStore",
    "Category",
    "Collection",
    "CollectionEvidence",
    "ConcurrentUpdate",
    "DataManifest",
    "Field",
    "InvalidValue",
    "Opened",
    "PersonalDataRefused",
    "Record",
    "RecordNotFound",
    "Rotation",
    "SampledRecord",
    "Secret",
    "TenantStore",
    "UndeclaredCollection",
    "UndeclaredData",
    "reencrypt_tenant",
    "rotate_tenant_key",
    "sample_records",
    "store_evidence",
]
