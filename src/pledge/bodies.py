"""Request bodies: at most ``MAX_BODY_BYTES`` (413 ``body_too_large``); JSON strict and shallow (400
``body_malformed``).

The size bound is enforced once for every route by :mod:`pledge.body_limit`; this module says what a body may be.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from pledge.errors import Refused

MAX_BODY_BYTES: Final = 1024 * 1024
"""Webhook payloads of large issues reach a few hundred KiB; no route of Pledge takes more than this."""

MAX_JSON_DEPTH: Final = 128
"""Atlassian Document Format nests a few dozen levels at most. The bound sits well below where ``json.dumps`` (about
1000 levels) and ``orjson.dumps`` (255) give up, so a handler that echoes or stores a body never fails on its depth."""


CHECKED_JSON: Final = "pledge.checked_json"
"""The scope key under which a verifier leaves the request's body as :func:`parse_json` parsed it (bounded, strict,
depth-checked), so a handler's ``context.json()`` answers with it without reading or checking the body again."""


class BodyRefused(Refused):
    """The request body is too large (413), not JSON, or nested too deep (400)."""


def too_large(limit: int = MAX_BODY_BYTES) -> BodyRefused:
    return BodyRefused("body_too_large", f"the request body is larger than {limit} bytes", status_code=413)


def parse_json(body: bytes) -> Any:
    """Strict RFC 8259 (orjson: no NaN, no invalid UTF-8, no trailing data), at most ``MAX_JSON_DEPTH`` levels."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BodyRefused("body_malformed", "the request body is not JSON", status_code=400) from None
    check_depth(body, parsed)
    return parsed


def check_depth(body: bytes, parsed: Any) -> None:
    """Refuse ``parsed`` (the JSON of ``body``) when it nests deeper than ``MAX_JSON_DEPTH``.

    A document with fewer opening brackets than the bound cannot be deeper (two byte counts, about 1 µs for a
    5 KiB event); only others are walked.
    """
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH or _depth_within(parsed, MAX_JSON_DEPTH):
        return
    raise BodyRefused("body_malformed", f"the request body nests deeper than {MAX_JSON_DEPTH} levels", status_code=400)


def _depth_within(value: Any, limit: int) -> bool:
    # Iterative: the point is to refuse what would exhaust recursion.
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return False
                pending.append((child, depth + 1))
    return True
