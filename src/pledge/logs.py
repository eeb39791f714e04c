"""JSON logs that never carry secrets or personal data (Marketplace requirement; S2, S11).

Tenants appear by internal id. The redaction filter is the last line of defence, not the first: code should not
log such values at all, but if a token, secret or e-mail address slips into a message, it is masked here.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), ("@",)),
)


def redact(text: str) -> str:
    """Mask tokens, secrets and e-mail addresses in ``text``."""
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


class RedactionFilter(logging.Filter):
    """Rewrites every record's message (arguments included) through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class AccessLogFilter(logging.Filter):
    """Uvicorn's access line reduced to method, path and status.

    The query string goes: Connect page loads carry the JWT and the site's URL (``xdm_e``) there, and redacting
    known names cannot anticipate every parameter an app adds. The client address goes too: on a page load it is
    the end user's browser, and an IP address is personal data the statement does not declare (S2).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            _client, method, path_and_query, http_version, status = record.args
            record.msg = '"%s %s HTTP/%s" %d'
            record.args = (method, str(path_and_query).partition("?")[0], http_version, status)
        return True


class JsonFormatter(logging.Formatter):
    # uvicorn's `color_message` repeats the message with terminal escapes.
    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {key: value for key, value in vars(record).items() if key not in self._STANDARD and key != "message"}
        )
        if record.exc_text:
            entry["exception"] = record.exc_text
        return redact(json.dumps(entry, default=str))


def configure_logging(level: str = "INFO") -> None:
    """Route every logger (uvicorn's included) through one redacting JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(AccessLogFilter())  # before redaction, which flattens the arguments it needs
    handler.addFilter(RedactionFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Alembic narrates every connection at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
