"""Forge Remote: FIT-verified calls, lifecycle triggers, product calls with app tokens, data residency (S1, S11)."""

from pledge.forge.api_client import ForgeApiClient, TokenUnavailable
from pledge.forge.requests import ForgeCall, app_client, forge_call
from pledge.forge_config import ForgeConfig

__all__ = [
    "ForgeApiClient",
    "ForgeCall",
    "ForgeConfig",
    "TokenUnavailable",
    "app_client",
    "forge_call",
]
