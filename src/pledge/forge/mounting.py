"""The platform endpoints of a Forge Remote app put together: lifecycle triggers and realm migration hooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Route

from pledge.forge.lifecycle_events import ForgeLifecycle
from pledge.forge.realm import RealmHooks
from pledge.forge.requests import ForgeRequestVerifier
from pledge.forge.routes import INSTALLED_PATH, PEER_PATH, PRE_UNINSTALL_PATH, REALM_PATH, UPGRADED_PATH
from pledge.trust.identity import Verifier

if TYPE_CHECKING:
    from pledge.app import App
    from pledge.runtime import Runtime


def forge_routes(app: App, runtime: Runtime, verifier: Verifier, depart: Callable[[str, str], None]) -> list[BaseRoute]:
    """The lifecycle triggers and realm migration hooks of a Forge Remote app; ``depart(tenant_id, realm)`` records
    in the backups that a committed migration moved a tenant away (see :class:`RealmHooks`)."""
    if not isinstance(verifier, ForgeRequestVerifier):
        return []
    lifecycle = ForgeLifecycle(verifier)
    hooks = RealmHooks(verifier, depart)
    return [
        Route(INSTALLED_PATH, lifecycle.installed, methods=["POST"]),
        Route(UPGRADED_PATH, lifecycle.upgraded, methods=["POST"]),
        Route(PRE_UNINSTALL_PATH, lifecycle.pre_uninstall, methods=["POST"]),
        *(Route(f"{REALM_PATH}/{step}", handler, methods=[method]) for step, method, handler in hooks.hooks()),
        *(Route(f"{PEER_PATH}/{step}", handler, methods=["POST"]) for step, handler in hooks.peer()),
    ]
