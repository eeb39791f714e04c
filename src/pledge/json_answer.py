"""JSON answers encoded by orjson: the handlers' JSON and every refusal are encoded once per request, and orjson
does it several times faster than the json module Starlette's ``JSONResponse`` uses, to the same compact UTF-8."""

from __future__ import annotations

import json
from typing import Any, Final

import orjson
from starlette.responses import JSONResponse

_OPTIONS: Final = orjson.OPT_NON_STR_KEYS


class JsonAnswer(JSONResponse):
    """Starlette's ``JSONResponse`` with orjson's encoder. What orjson will not encode (an integer past 64 bits) is
    encoded as Starlette would, so no answer fails for the faster encoder's sake. One difference: a NaN or infinite
    float, which Starlette refused (a 500), is sent as ``null``, as orjson writes it: JSON has no such numbers."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=_OPTIONS)
        except TypeError:
            return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
