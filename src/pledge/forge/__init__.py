"""Forge Remote: FIT-verified calls, lifecycle triggers, product calls with app tokens, data residency (S1, S11)."""

from pledge.forge.product import ProductClient, TokenUnavailable
from pledge.forge.requests import ForgeCall, app_client, forge_call
from pledge.forge_config import ForgeConfig

__all__ = [
    "ForgeCall",
    "ForgeConfig",
    "ProductClient",
    "TokenUnavailable",
    "app_client",
    "forge_call",
]
