"""S2, S11: nothing of the personal-data corpus, no token, secret or URL password reaches a log line.

Everything goes through the real handler that ``configure_logging`` installs (filters, JSON formatter, stderr).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pledge.logs import REDACTED, configure_logging
from pledge.store.pii import scan

try:  # tests/ may or may not become a package; the corpus sits next to this file either way
    from .pii_corpus import FALSE_POSITIVES, TRUE_POSITIVES
except ImportError:
    from pii_corpus import FALSE_POSITIVES, TRUE_POSITIVES  # type: ignore[no-redef]

_CONFIGURED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "httpcore", "httpx")

Logged = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def logged() -> Iterator[Logged]:
    """Logging as ``pledge serve`` configures it, its handler's stream captured; the JSON lines written so far."""
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate)
        for logger in (logging.getLogger(name) for name in _CONFIGURED)
    ]
    configure_logging("INFO")
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)  # instead of stderr, which pytest swaps between phases

    def lines() -> list[dict[str, Any]]:
        written = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        return [json.loads(line) for line in written.splitlines()]

    yield lines
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _personal_parts(text: str) -> list[str]:
    return [text[f.start : f.end] for f in scan(text)]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _assert_clean(entry: dict[str, Any], personal: list[str]) -> None:
    for text in _strings(entry):
        assert scan(text) == [], text
        assert not any(part in text for part in personal), text


def test_no_spelling_of_personal_data_survives_any_part_of_a_record(logged: Logged) -> None:
    log = logging.getLogger("pledge.test")
    access = logging.getLogger("uvicorn.access")
    for label, text, _kind in TRUE_POSITIVES:
        log.warning("refused %s: %r", text, {"value": text})
        log.info("field", extra={"value": text, "nested": {"list": [text], text: 1}})
        access.info('%s - "%s %s HTTP/%s" %d', "192.0.2.1", "GET", f"/apps/a/{text}?q={quote(text)}", "1.1", 404)
        access.info('%s - "%s %s HTTP/%s" %d', "192.0.2.1", "GET", f"/apps/a/{quote(text)}", "1.1", 404)
        try:
            raise ValueError(f"cannot store {text}")
        except ValueError:
            log.exception("failed")
        entries = logged()
        assert len(entries) == 5, label
        for entry in entries:
            _assert_clean(entry, _personal_parts(text))


def test_a_full_width_at_sign_in_a_request_path_is_redacted(logged: Logged) -> None:
    path = "/apps/mailer/users/alice＠example.com/settings"
    logging.getLogger("pledge.test").info("GET %s %d", path, 404)
    [entry] = logged()
    assert entry["message"] == f"GET /apps/mailer/users/{REDACTED}/settings 404"


def test_a_card_number_given_as_an_int_field_is_redacted(logged: Logged) -> None:
    logging.getLogger("pledge.test").info("paid", extra={"card": 4111111111111111, "count": 3})
    [entry] = logged()
    assert entry["card"] == REDACTED
    assert entry["count"] == 3


@pytest.mark.parametrize(("label", "text"), FALSE_POSITIVES, ids=[label for label, _ in FALSE_POSITIVES])
def test_ordinary_values_are_logged_as_they_are(logged: Logged, label: str, text: str) -> None:
    logging.getLogger("pledge.test").info("%s", text, extra={"value": text})
    [entry] = logged()
    assert entry["message"] == text
    assert entry["value"] == text


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        ("GET /page?jwt=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl&x=1", "c2lnbmF0dXJl"),
        ("jwt=opaque.token.value", "opaque.token.value"),
        ("Authorization: JWT abc.def.ghi", "abc.def.ghi"),
        ("Authorization: Bearer opaque-token-value", "opaque-token-value"),
        ("calling with Bearer opaque-token-value", "opaque-token-value"),
        ('{"sharedSecret": "very-secret-value"}', "very-secret-value"),
        ("shared_secret=very-secret-value", "very-secret-value"),
        ("postgresql+psycopg://pledge:s3cr3t-pw@db.internal:5432/pledge", "s3cr3t-pw"),
        ("postgresql+psycopg://pledge:s3cr3t@pw@localhost/pledge", "s3cr3t"),
        ("connecting to postgresql://u:p%40ss@127.0.0.1/db failed", "p%40ss"),
    ],
)
def test_tokens_secrets_and_url_passwords_are_redacted(logged: Logged, message: str, leak: str) -> None:
    logging.getLogger("pledge.test").error(message, extra={"detail": message})
    [entry] = logged()
    assert leak not in json.dumps(entry)
    assert REDACTED in entry["message"] and REDACTED in entry["detail"]


def test_outbound_requests_are_logged_by_scheme_and_host_only(logged: Logged) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.get("https://user:pw@example.atlassian.net/rest/api/3/user?accountId=557058%3Af58131cb&jwt=abc.def")
    [entry] = logged()
    assert entry["logger"] == "httpx"
    assert entry["message"] == 'HTTP Request: GET https://example.atlassian.net "HTTP/1.1 200 OK"'


def test_httpcore_trace_is_never_logged(logged: Logged) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("httpcore.http11").debug("receive_response_headers.complete return_value=(b'Set-Cookie', ...)")
    assert logged() == []
