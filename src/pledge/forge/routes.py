"""Where a Forge Remote app's platform endpoints live under ``/apps/<key>``, and how a refusal is answered (S11).

Forge expects JSON and no redirect; every refusal here is a JSON body with a reason code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.errors import PledgeError, Refused
from pledge.metrics import route_template
from pledge.trust.connect import read_body, read_json_object

log = logging.getLogger("pledge.forge")

INSTALLED_PATH = "/forge/lifecycle/installed"
UPGRADED_PATH = "/forge/lifecycle/upgraded"
PRE_UNINSTALL_PATH = "/forge/lifecycle/pre-uninstall"
REALM_PATH = "/forge/realm"
PEER_PATH = "/forge/realm/peer"

Handler = Callable[[Request], Awaitable[Response]]
_BODY_REFUSAL_STATUS: Final = {"body_too_large": 413}


async def body_within(request: Request, limit: int) -> bytes:
    """The body, refused unread past ``limit`` (413 ``body_too_large``); the handler reads it again for free."""
    try:
        return await read_body(request, limit)
    except Refused as exc:
        raise _refused(exc) from None


async def json_object_within(request: Request, limit: int) -> dict[str, Any]:
    """The body as a strict JSON object (400 ``body_malformed``), bounded as :func:`body_within`."""
    try:
        return await read_json_object(request, limit)
    except Refused as exc:
        raise _refused(exc) from None


def _refused(exc: Refused) -> Refused:
    return Refused(exc.code, str(exc), status_code=_BODY_REFUSAL_STATUS.get(exc.code, 400))


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
