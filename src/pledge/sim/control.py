"""The control API of ``pledge sim serve``: how commands run in another terminal make the site act (S11).

It exists only in the simulator, under ``/_sim``: each control route takes a JSON object and answers JSON; what
the site cannot do is answered as ``{"error": "<one line>"}``, so the CLI prints one line and exits non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pledge.sim.connect_site import SimError
from pledge.sim.site import SimSite

CONTROL_PREFIX: Final = "/_sim"
_JWT_PARAMETER: Final = re.compile(r"([?&]jwt=)[^&]*")

ControlHandler = Callable[[Request, dict[str, Any]], Awaitable[Any]]
"""Takes the request (for its path parameters) and its JSON body; returns what to answer as JSON."""


def add_control_route(site: SimSite, path: str, handler: ControlHandler, method: str = "POST") -> None:
    async def endpoint(request: Request) -> Response:
        body: dict[str, Any] = {}
        if method == "POST" and await request.body():
            try:
                parsed = await request.json()
            except ValueError:
                return JSONResponse({"error": "the control request body is not JSON"}, status_code=400)
            body = parsed if isinstance(parsed, dict) else {}
        try:
            return JSONResponse(await handler(request, body))
        except SimError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except httpx.RequestError as exc:
            return JSONResponse({"error": _unanswered(exc)}, status_code=502)

    site.add_route(CONTROL_PREFIX + path, endpoint, methods=(method,))


def redact_jwt(url: str) -> str:
    """Tokens never appear in printed URLs."""
    return _JWT_PARAMETER.sub(r"\1[redacted]", url)


def _unanswered(exc: httpx.RequestError) -> str:
    url = redact_jwt(str(exc.request.url))
    return f"{url} did not answer ({type(exc).__name__}): is the app served there?"
