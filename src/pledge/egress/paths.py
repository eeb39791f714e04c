"""Request paths on a product's REST API that app input cannot steer (S11, S13).

An app names what it reads with a template, ``"/rest/api/3/issue/{key}"`` and ``key=issue_key``: each value is
percent-encoded as exactly one segment, so ``SIM-1/../../myself`` reaches ``/rest/api/3/issue/SIM-1%2F..%2F..%2F
myself`` (which the product answers 404), never ``/rest/api/3/myself`` with the user's token. A path written out
literally (an f-string) is refused when it could leave where it points: a dot-segment, also percent-encoded (``%2e``,
``%252e``) or with a Tomcat path parameter (``..;``), an encoded ``/`` or ``\\`` that a server may decode into a
separator, a backslash, an empty segment, a ``#`` or a control character anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, unquote

import httpx
from starlette.exceptions import HTTPException

from pledge.errors import PledgeError

__all__ = ["MAX_PATH_LENGTH", "UnsafePath", "product_path", "request_url", "unsafe_reason"]

MAX_PATH_LENGTH: Final = 8192
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_RAW_UNSAFE: Final = re.compile(r"[\x00-\x1f\x7f\\#]")
_DOT_SEGMENTS: Final = frozenset({".", ".."})
# A value is unquoted this many times at most: a server or proxy decodes once or twice, never more.
_MAX_DECODINGS: Final = 4


class UnsafePath(HTTPException, PledgeError):
    """A product path that could reach somewhere other than what the app wrote; its handler's caller gets 400.

    An HTTPException first (in the MRO, which is what Starlette looks its handlers up by) so that a handler which
    passed request input into a path answers 400 rather than 500, whatever the host does with other PledgeErrors.
    The message says which rule the path broke, never the path itself (it is the caller's input).
    """

    code: Final = "unsafe_path"

    def __init__(self, message: str) -> None:
        HTTPException.__init__(self, 400, message)
        PledgeError.__init__(self, message)

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"UnsafePath({self.detail!r})"


def product_path(path: str, segments: Mapping[str, str | int] | None = None) -> str:
    """``path`` with each ``{name}`` replaced by ``segments[name]`` encoded as one segment; refused when unsafe.

    A path without placeholders is taken literally and must pass :func:`unsafe_reason`, decoded as a server may.
    """
    segments = segments or {}
    if segments or _PLACEHOLDER.search(path):
        template_reason = unsafe_reason(_PLACEHOLDER.sub("x", path))
        if template_reason is not None:
            raise UnsafePath(f"the path template {template_reason}")
        path = _expand(path, segments)
    reason = unsafe_reason(path, decode=not segments)  # an encoded value's %2F is meant: it stays one segment
    if reason is not None:
        raise UnsafePath(f"the product path {reason}: pass request input as a segment, as in ('/issue/{{key}}', key=…)")
    return path


def request_url(base_url: str, path: str, params: Mapping[str, str] | None) -> httpx.URL:
    """``base_url + path`` with ``params`` added to the query the path may carry (httpx's ``params=`` would replace
    it, and the token would be signed over the truncated URL, so nothing would signal the loss)."""
    url = httpx.URL(base_url + path)
    if not params:
        return url
    written = {name for name, _ in url.params.multi_items()}
    if written & set(params):
        raise UnsafePath("a query parameter is both written into the product path and passed in params=")
    return url.copy_merge_params(params)


def unsafe_reason(path: str, *, decode: bool = True) -> str | None:
    """Why ``path`` (``/segments[?query]``) could be steered elsewhere, or None. With ``decode``, each segment is
    also judged as a server would see it after unquoting it (repeatedly)."""
    if len(path) > MAX_PATH_LENGTH:
        return f"is longer than {MAX_PATH_LENGTH} characters"
    if not path.startswith("/"):
        return "must start with '/'"
    if _RAW_UNSAFE.search(path):
        return "contains a backslash, '#' or a control character"
    segments = path.partition("?")[0].split("/")[1:]
    for position, segment in enumerate(segments):
        if not segment and position < len(segments) - 1:
            return "has an empty segment ('//')"
        seen = _decoded(segment) if decode else segment
        if seen is None:
            return "is percent-encoded too many times over"
        if seen.split(";", 1)[0] in _DOT_SEGMENTS:
            return "has a '.' or '..' segment"
        if decode and ("/" in seen or "\\" in seen):
            return "has a percent-encoded '/' or '\\'"
    return None


def _decoded(segment: str) -> str | None:
    for _ in range(_MAX_DECODINGS):
        decoded = unquote(segment)
        if decoded == segment:
            return segment
        segment = decoded
    return None if unquote(segment) != segment else segment


def _expand(template: str, segments: Mapping[str, str | int]) -> str:
    names = set(_PLACEHOLDER.findall(template))
    missing, unused = names - segments.keys(), segments.keys() - names
    if missing or unused:
        raise UnsafePath(
            f"the path template's placeholders {sorted(names)} do not match the values given {sorted(segments)}"
        )
    return _PLACEHOLDER.sub(lambda match: _segment(match.group(1), segments[match.group(1)]), template)


def _segment(name: str, value: str | int) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str):
        raise UnsafePath(f"{{{name}}} must be a string or an integer")
    if text in ("", *_DOT_SEGMENTS):
        raise UnsafePath(f"{{{name}}} must not be empty, '.' or '..'")
    # errors="strict" would raise on a lone surrogate, which a JSON body can carry: those become "?" ("%3F").
    return quote(text, safe="", errors="replace")
