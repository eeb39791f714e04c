"""Where the host mounts each app: the one rule every layer that builds an app's URL shares."""

from __future__ import annotations

from typing import Final

APPS_PREFIX: Final = "/apps"


def app_base_path(key: str) -> str:
    """The path prefix of the app with this key: the root of its routes, its descriptor's baseUrl, its QSHs."""
    return f"{APPS_PREFIX}/{key}"
