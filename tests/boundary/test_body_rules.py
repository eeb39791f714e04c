"""One rule for what a JSON body may be, whoever parses it (the verifiers, ``context.json()``)."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from pledge.bodies import MAX_JSON_DEPTH
from pledge.errors import Refused
from pledge.trust.connect_jwt import read_json_object


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5_000])
async def test_the_connect_body_reader_keeps_the_one_depth_rule(depth: int) -> None:
    """Verifiers and ``context.json()`` parse bodies by the same rule (:mod:`pledge.bodies`): before, the verifier's
    own parse let a webhook through at any depth orjson accepts, up to 1024 levels."""
    body = b'{"a": ' * depth + b"1" + b"}" * depth
    pieces = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return pieces.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", str(len(body)).encode())]}
    request = Request(scope, receive)
    if depth <= MAX_JSON_DEPTH:
        assert await read_json_object(request) is not None
        return
    with pytest.raises(Refused) as refused:
        await read_json_object(request)
    assert (refused.value.code, refused.value.status_code) == ("body_malformed", 400)
