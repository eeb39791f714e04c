"""The ``remotes``, ``endpoint`` and ``trigger`` sections of an app's Forge manifest.yml, from its declaration.

S1 and S14: what Forge calls is what Pledge serves: the manifest is generated from the same routes and the deployment's
regional URLs (``PLEDGE_PUBLIC_URL`` and ``PLEDGE_FORGE_PEERS``), never written by hand beside them.
"""

from __future__ import annotations

import re
from typing import Any

from pledge.app import App, Auth
from pledge.config import Settings
from pledge.errors import ConfigurationError
from pledge.forge.lifecycle_events import INSTALLED, INSTALLED_MODULE, PRE_UNINSTALL_MODULE, UPGRADED, UPGRADED_MODULE
from pledge.forge.routes import INSTALLED_PATH, PRE_UNINSTALL_PATH, REALM_PATH, UPGRADED_PATH
from pledge.mounts import app_base_path

_MAX_KEY = 63
_TRIGGER_SUFFIX = "-trigger"


def _auth(*, user: bool) -> dict[str, Any]:
    auth: dict[str, Any] = {"appSystemToken": {"enabled": True}}
    if user:
        auth["appUserToken"] = {"enabled": True}
    return auth


def manifest_sections(app: App, settings: Settings) -> dict[str, Any]:
    """``{"modules": {"endpoint", "trigger", "preUninstall", "migration:dataResidency"}, "remotes": [...]}``."""
    config = app.forge
    if config is None:
        raise ConfigurationError(f"app {app.key!r} is not a Forge Remote: give it forge=ForgeConfig(app_id=...)")
    base = app_base_path(app.key)
    endpoints: list[dict[str, Any]] = []
    triggers: list[dict[str, Any]] = []

    def endpoint(key: str, path: str, auth: dict[str, Any]) -> str:
        endpoints.append({"key": key, "remote": config.remote_key, "route": {"path": base + path}, "auth": auth})
        return key

    for module, path, event in (
        (INSTALLED_MODULE, INSTALLED_PATH, INSTALLED),
        (UPGRADED_MODULE, UPGRADED_PATH, UPGRADED),
    ):
        target = endpoint(module.endpoint_key, path, _auth(user=False))
        triggers.append({"key": module.module_key, "endpoint": target, "events": [event]})
    forge_routes = {route.path: route for route in app.routes if route.auth is Auth.FORGE}
    by_path: dict[str, list[str]] = {}
    for event, path in config.events.items():
        route = forge_routes.get(path)
        if route is None or "POST" not in route.methods:
            raise ConfigurationError(f"event {event} goes to {path}, which is no Auth.FORGE POST route of {app.key!r}")
        by_path.setdefault(path, []).append(event)
    for path, events in by_path.items():
        key = endpoint(_key(path), path, _auth(user=False))
        triggers.append({"key": f"{key}{_TRIGGER_SUFFIX}", "endpoint": key, "events": events})
    for path in forge_routes:
        if path not in by_path:
            endpoint(_key(path), path, _auth(user=True))
    pre_uninstall = endpoint(PRE_UNINSTALL_MODULE.endpoint_key, PRE_UNINSTALL_PATH, _auth(user=False))
    modules: dict[str, list[dict[str, Any]]] = {
        "endpoint": endpoints,
        "trigger": triggers,
        "preUninstall": [{"key": PRE_UNINSTALL_MODULE.module_key, "endpoint": pre_uninstall}],
        "migration:dataResidency": [
            {
                "key": "pledge-realm-migration",
                "remote": config.remote_key,
                "path": base + REALM_PATH,
                "maxMigrationDurationHours": config.max_migration_hours,
            }
        ],
    }
    _check_unique_keys(app, modules)
    return {
        "modules": modules,
        "remotes": [
            {
                "key": config.remote_key,
                "baseUrl": _base_urls(settings),
                "operations": ["compute", "storage"],
                "storage": {"inScopeEUD": True},
                "auth": _auth(user=True),
            }
        ],
    }


def _base_urls(settings: Settings) -> str | dict[str, str]:
    if not settings.forge_peers:
        return settings.public_url
    own = settings.resolved_forge_region
    regional = {own: settings.public_url, **settings.forge_peers}
    return {"default": settings.public_url, **dict(sorted(regional.items()))}


def _key(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[: _MAX_KEY - len(_TRIGGER_SUFFIX)] or "root"


def _check_unique_keys(app: App, modules: dict[str, list[dict[str, Any]]]) -> None:
    """Forge refuses a manifest in which two modules, of any types, share a key."""
    seen: set[str] = set()
    for entries in modules.values():
        for entry in entries:
            key = entry["key"]
            if key in seen:
                raise ConfigurationError(
                    f"two Forge modules of {app.key!r} would share the key {key!r}: rename one of the routes"
                )
            seen.add(key)
