"""Forge Remote: FIT-verified calls, lifecycle triggers, product calls with app tokens, data residency (S1, S11)."""

from pledge.forge.forge_config import ForgeConfig
from pledge.forge.migration import TableRows, TenantData, register_tenant_data
from pledge.forge.product import ProductClient, TokenUnavailable
from pledge.forge.requests import ForgeCall, app_client, forge_call

__all__ = [
    "ForgeCall",
    "ForgeConfig",
    "ProductClient",
    "TableRows",
    "TenantData",
    "TokenUnavailable",
    "app_client",
    "forge_call",
    "register_tenant_data",
]
