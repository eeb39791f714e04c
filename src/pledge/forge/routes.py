"""Where a Forge Remote app's platform endpoints live under ``/apps/<key>``, and how a refusal is answered (S11).

Forge expects JSON and no redirect; every refusal here is a JSON body with a reason code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.errors import PledgeError, Refused
from pledge.metrics import route_template

log = logging.getLogger("pledge.forge")

INSTALLED_PATH = "/forge/lifecycle/installed"
UPGRADED_PATH = "/forge/lifecycle/upgraded"
PRE_UNINSTALL_PATH = "/forge/lifecycle/pre-uninstall"
REALM_PATH = "/forge/realm"
PEER_PATH = "/forge/realm/peer"

Handler = Callable[[Request], Awaitable[Response]]


def answering_json(handler: Handler) -> Handler:
    """Refusals as JSON: ``Refused`` with its status, any other PledgeError as 400."""

    async def handle(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            log.info("refused %s %s: %s", request.method, route_template(request.scope), exc.code)
            return JSONResponse({"error": exc.code, "message": str(exc)}, status_code=exc.status_code)
        except PledgeError as exc:
            log.info("refused %s %s: %s", request.method, route_template(request.scope), type(exc).__name__)
            return JSONResponse({"error": "refused", "message": str(exc)}, status_code=400)

    return handle
