"""S3 and S6: the only thing stored about a customer site is its identity, and uninstalling ends the account."""

from pledge.tenants.registry import (
    Tenant,
    TenantNotFound,
    TenantRegistry,
    TenantState,
    TenantStateError,
    count_by_region,
    reseal_secrets,
    stored_fields,
    tenants_table,
)

__all__ = [
    "Tenant",
    "TenantNotFound",
    "TenantRegistry",
    "TenantState",
    "TenantStateError",
    "count_by_region",
    "reseal_secrets",
    "stored_fields",
    "tenants_table",
]
