"""The one shape of a refusal on the wire: ``{"error": code, "message": one line}`` with its 4xx, logged in one line."""

from __future__ import annotations

import logging
from typing import Final

from starlette.types import Scope

from pledge.errors import Refused
from pledge.json_answer import JsonAnswer
from pledge.metrics import route_template

log = logging.getLogger("pledge.serving")


def refusal(code: str, message: str, *, status_code: int = 401) -> JsonAnswer:
    """The 4xx every refusal becomes: a reason code of docs/reason-codes.md and one line, never a stack trace.

    A 413 also closes the connection: the rest of a body too large to take is not read.
    """
    headers = _CLOSE if status_code == 413 else None
    return JsonAnswer({"error": code, "message": message}, status_code=status_code, headers=headers)


_CLOSE: Final = {"Connection": "close"}


def refused(scope: Scope, exc: Refused) -> JsonAnswer:
    """Log a refusal in one line (method, route template, reason code, message: never a value the caller sent, so
    never the concrete path) and answer it."""
    log.info("refused %s %s: %s: %s", scope["method"], route_template(scope), exc.code, exc)
    return refusal(exc.code, str(exc), status_code=exc.status_code)
