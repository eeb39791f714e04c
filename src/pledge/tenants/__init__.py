"""S3, S6 and S7: the only thing stored about a customer site is its identity; uninstalling ends the account and
starts the deletion grace; the shred ledger remembers every purge."""

from pledge.tenants.registry import (
    Tenant,
    TenantNotFound,
    TenantRegistry,
    TenantState,
    TenantStateError,
    count_by_region,
    refuse_while_deleted,
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
    "refuse_while_deleted",
    "reseal_secrets",
    "stored_fields",
    "tenants_table",
]
