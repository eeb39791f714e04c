"""Query string hash (QSH): keeps S11 by binding every signed JWT to the one request it was issued for.

Atlassian's Java canonicalizer (``com.atlassian.jwt``, ``HttpRequestCanonicalizer``) is the authority; see
PROTOCOLS.md, "Query string hash (QSH)". Subtleties, and why:

- The path is hashed verbatim as it is on the wire (never decoded or re-encoded), because Java verifiers read it
  from the servlet's undecoded ``getRequestURI()``. (Java signers hash ``java.net.URI.getPath()``, which is
  decoded, so Java agrees with itself only on paths without escapes.) npm's ``url.parse`` escapes ``'`` in a full
  URL, and characters that are illegal on the wire anyway: there we follow Java.
- Names sort by their percent-encoded form (Java), not decoded (npm); repeated values sort by UTF-16 code unit,
  as both Java and JavaScript compare strings, so U+1F600 sorts before U+FF21, unlike a Python code-point sort.
- Malformed ``%`` escapes stay literal and empty names are kept (as npm and Jetty do; Tomcat drops them), so no
  byte of the query escapes the hash: an unsigned extra parameter always breaks it (fail closed).
- The context prefix is removed as a plain string prefix, like Java's ``StringUtils.removeStart`` and npm.
"""

from __future__ import annotations

import hashlib
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["CONTEXT_QSH", "canonical_request", "query_string_hash"]

CONTEXT_QSH: Final = "context-qsh"
"""The ``qsh`` claim of a context JWT, which is not bound to one request."""

_JWT_PARAM: Final = "jwt"


def _encode(text: str) -> str:
    # Java's URLEncoder (UTF-8) then "+"->"%20", "*"->"%2A", "%7E"->"~" keeps exactly A-Za-z0-9-._~, which is
    # what quote() keeps with safe="". A lone surrogate becomes "?" ("%3F"), as Java's String.getBytes does.
    return quote(text, safe="", errors="replace")


def _utf16_order(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def _split(url: str) -> tuple[str, str]:
    """(path, query) of a full URL or of a request target; a leading "//" is a path, not an authority."""
    if url.startswith("/"):
        target = url.partition("#")[0]
        path, _, query = target.partition("?")
        return path, query
    parts = urlsplit(url)
    return parts.path, parts.query


def _canonical_path(path: str, context_path: str) -> str:
    if context_path and context_path != "/" and path.startswith(context_path):
        path = path[len(context_path) :]
    if path.endswith("/"):
        path = path[:-1]
    if not path:
        return "/"
    if "&" in path:
        path = path.replace("&", "%26")
    return path if path.startswith("/") else "/" + path


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    grouped: dict[str, list[str]] = {}
    # application/x-www-form-urlencoded, as servlet containers decode a query: "+" is a space, UTF-8, U+FFFD for
    # invalid UTF-8; "&" is the only separator.
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != _JWT_PARAM:
            grouped.setdefault(name, []).append(value)
    pieces: list[tuple[str, str]] = []
    for name, values in grouped.items():
        if len(values) > 1:
            values.sort(key=_utf16_order)
        pieces.append((_encode(name), ",".join(map(_encode, values))))
    pieces.sort()
    return "&".join(f"{name}={values}" for name, values in pieces)


def canonical_request(method: str, url: str, *, context_path: str = "") -> str:
    """The canonical request ``METHOD&path&query`` whose SHA-256 is the ``qsh`` claim.

    ``url`` is a full URL or a request target (path and query) as sent on the wire. ``context_path`` is the prefix
    that is not part of the canonical path: the path of the app's baseUrl for requests to the app, the product's
    context path (e.g. ``"/wiki"``) for requests to the product. Characters are taken as text, so wire bytes (an
    ASGI ``raw_path`` or ``query_string``) must be decoded as UTF-8, not Latin-1, for raw non-ASCII to hash right.
    """
    path, query = _split(url)
    return f"{method.upper()}&{_canonical_path(path, context_path)}&{_canonical_query(query)}"


def query_string_hash(method: str, url: str, *, context_path: str = "") -> str:
    """Hex SHA-256 of :func:`canonical_request`: the value of the ``qsh`` claim for this request."""
    canonical = canonical_request(method, url, context_path=context_path)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()
