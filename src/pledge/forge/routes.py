"""Where a Forge Remote app's platform endpoints live under ``/apps/<key>`` (S11).

Forge expects JSON and no redirect: every refusal there is a :class:`~pledge.errors.Refused`, answered by the host
in the one refusal shape (``pledge.refusal``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

INSTALLED_PATH = "/forge/lifecycle/installed"
UPGRADED_PATH = "/forge/lifecycle/upgraded"
PRE_UNINSTALL_PATH = "/forge/lifecycle/pre-uninstall"
REALM_PATH = "/forge/realm"
PEER_PATH = "/forge/realm/peer"

Handler = Callable[[Request], Awaitable[Response]]
