"""JSON logs that never carry secrets or personal data (Marketplace requirement; S2, S11).

Tenants appear by internal id. Redaction is the last line of defence, not the first: code should not log such
values at all, but if a token, a secret, a password in a URL or personal data slips into a record, it is masked
here. Personal data is found by the store's own detector (:func:`pledge.store.pii.scan`), so the logs refuse exactly
what the store refuses, in every spelling it reads (full-width, look-alike letters, percent-encoded, ...).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

from pledge.cache import BoundedCache
from pledge.store.pii import scan

REDACTED = "[redacted]"

# Each pattern with the lower-case words one of which an ASCII text must contain for the pattern to match at all:
# most log lines (every access line) contain none, and a substring test is far cheaper than these expressions.
_RULES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    # JWTs: three base64url parts, the first two starting with '{"' encoded ('eyJ').
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), ("eyj",)),
    (
        re.compile(r"(?i)\b(authorization|bearer|jwt)\b([\"']?\s*[:=]?\s*)(JWT |Bearer )?[^\s,;\"'&]+"),
        ("authorization", "bearer", "jwt"),
    ),
    (
        re.compile(
            r"(?i)\b(shared_?secret|secret|password|passwd|token|api_?key|x-forge-oauth-\w+)\b([\"']?\s*[:=]\s*[\"']?)[^\s,;\"'&]+"
        ),
        ("secret", "password", "passwd", "token", "api_key", "apikey", "x-forge-oauth-"),
    ),
    # The password of a URL's user info (a database URL): everything up to the authority's last "@".
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:]*)(:)[^\s/?#]+(?=@[^\s/?#@]*)"), ("@",)),
)


def _redact_secrets(text: str) -> str:
    # Outside ASCII, case-insensitive matching knows more equivalences than str.lower() ("İ" matches "i"): no shortcut.
    lowered = text.lower() if text.isascii() else None
    for pattern, words in _RULES:
        if lowered is not None and not any(word in lowered for word in words):
            continue
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact(text: str) -> str:
    """Mask tokens, secrets, URL passwords and personal data (every kind the store's detector finds) in ``text``."""
    text = _redact_secrets(text)
    findings = scan(text)
    if not findings:
        return text
    parts: list[str] = []
    end = 0
    for finding in findings:
        parts += (text[end : finding.start], REDACTED)
        end = finding.end
    parts.append(text[end:])
    return "".join(parts)


# Nested extra fields deeper than this are logged as their redacted text.
_MAX_FIELD_DEPTH = 8


def _redacted_field(value: object, depth: int = 0) -> object:
    """An extra field of a record, redacted: strings and numbers (a card number may be an int) are scanned."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if redact(str(value)) == str(value) else REDACTED
    if depth < _MAX_FIELD_DEPTH:
        if isinstance(value, Mapping):
            return {redact(str(key)): _redacted_field(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [_redacted_field(item, depth + 1) for item in value]
    return redact(str(value))


# What every record has; anything else on a record is an extra field (``extra={...}``). uvicorn's `color_message`
# repeats the message with terminal escapes and is dropped.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
_DROPPED_ATTRIBUTES = frozenset({"color_message"})


class RedactionFilter(logging.Filter):
    """Rewrites every record through :func:`redact`: its final message (arguments included), its traceback and
    stack, and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key in vars(record).keys() - _STANDARD_ATTRIBUTES - _DROPPED_ATTRIBUTES:
            setattr(record, key, _redacted_field(getattr(record, key)))
        return True


class OutboundRequestFilter(logging.Filter):
    """httpx's line per outbound request (``HTTP Request: GET <url> "HTTP/1.1 200 OK"``, at INFO) with the URL cut to
    its scheme and host.

    A path names the site's issues, pages and users (``/rest/api/3/issue/SIM-2``, a Confluence page title), a query
    string carries JWTs, accountIds and search terms, a URL's user info a password: none of it is needed to tell
    which service was called. Installed on the ``httpx`` logger itself, so every handler gets the cut line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.name == "httpx"
            and isinstance(record.msg, str)
            and record.msg.startswith("HTTP Request:")
            and isinstance(record.args, tuple)
            and len(record.args) >= 2
        ):
            method, url, *rest = record.args
            record.args = (method, _scheme_and_host(str(url)), *rest)
        return True


def _scheme_and_host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Expects records that went through :class:`RedactionFilter` (as
    :func:`configure_logging` arranges): it formats, it does not redact."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = vars(record).keys() - _STANDARD_ATTRIBUTES - _DROPPED_ATTRIBUTES
        entry.update({key: getattr(record, key) for key in sorted(extra)})
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class JsonHandler(logging.StreamHandler[TextIO]):
    """The handler of :func:`configure_logging`: redacted records as JSON lines on a stream; :class:`AccessLog` writes
    its lines here directly.

    Lines written on an event loop's thread go out together when the loop's turn ends: one ``write`` for every access
    line of the turn, rather than a system call per request. Any other record, and a flush, writes them first, so the
    stream keeps the order in which lines were written; what a kill -9 can lose is the lines of one loop turn.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def write_line(self, line: str) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]  # Handler.__init__ made it
            self._pending.append(line)
            if loop is None:
                self._write_pending()
            elif len(self._pending) == 1:
                loop.call_soon(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        self._write_pending()  # under the lock Handler.handle holds
        super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            super().flush()

    def _write_pending(self) -> None:
        if self._pending:
            self.stream.write("".join(self._pending))
            self._pending.clear()
            self.stream.flush()


ACCESS_LOGGER: Final = "pledge.access"
_ACCESS_PREFIXES: Final = 1024
"""Formatted line heads an access log keeps: (method, route template, status) of declared routes, a bounded set."""


class AccessLog:
    """The access line of each request, ``POST /apps/<key>/webhooks/x 204 1.2ms``, from the logger ``pledge.access``.

    Its fields are the server's own: a method the HTTP parser admits, a declared route template (never the path a
    caller sent), a status and a duration. None of them can carry a secret or personal data, so where the logs are
    :func:`configure_logging`'s JSON lines, the line is formatted here, its head once per route and status, and written
    to the handler as is: a ``LogRecord``, the redaction filters and the JSON encoder per request cost more than the
    rest of a bare request together (bench/README.md). Anywhere else (a handler of the application's own, a test's
    capture) it is an ordinary log record.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(ACCESS_LOGGER)
        self._heads: BoundedCache[tuple[str, str, int], str] = BoundedCache(_ACCESS_PREFIXES)
        self._second = -1
        self._second_text = ""
        self._handler: JsonHandler | None = None

    def __call__(self, method: str, template: str, status: int, seconds: float) -> None:
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, _timestamp(second)[:-10]  # without ".000+00:00"
            # Looked up once a second, not per request (walking the loggers costs as much as the line): a change to
            # the logging configuration reaches the access line within a second.
            self._handler = _sole_json_handler(logger)
        handler = self._handler
        if handler is None:
            logger.info("%s %s %d %.1fms", method, template, status, seconds * 1000)
            return
        key = (method, template, status)
        head = self._heads.get(key)
        if head is None:
            # The message's JSON string up to its duration: json.dumps escapes as JsonFormatter's lines do.
            head = self._heads.put(key, json.dumps(f"{method} {template} {status} ")[:-1])
        millis = int((now - second) * 1000)
        handler.write_line(
            f'{{"time": "{self._second_text}.{millis:03d}+00:00", "level": "INFO", "logger": "{ACCESS_LOGGER}", '
            f'"message": {head}{seconds * 1000:.1f}ms"}}\n'
        )


def _sole_json_handler(logger: logging.Logger) -> JsonHandler | None:
    """The one handler a record of ``logger`` would reach, if it is a :class:`JsonHandler` that takes INFO."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found += current.handlers
        if not current.propagate:
            break
        current = current.parent
    if len(found) != 1:
        return None
    handler = found[0]
    return handler if isinstance(handler, JsonHandler) and handler.level <= logging.INFO else None


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route every logger (uvicorn's and httpx's included) through one redacting JSON handler on ``stream`` (stderr)."""
    handler = JsonHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter())
    # On the logger, not the handler: it runs before any handler's redaction, which flattens the arguments it needs.
    outbound = logging.getLogger("httpx")
    if not any(isinstance(installed, OutboundRequestFilter) for installed in outbound.filters):
        outbound.addFilter(OutboundRequestFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Alembic narrates every connection at INFO; only its warnings matter to an operator. httpcore's DEBUG trace
    # holds response headers (cookies, tokens): never wanted in these logs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # botocore's DEBUG trace prints each request's headers: the access key id of a backup bucket's Authorization.
    logging.getLogger("botocore").setLevel(logging.INFO)
