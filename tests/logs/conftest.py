"""Logging as ``pledge serve`` configures it (:func:`pledge.logs.configure_logging`), its JSON lines captured, and the
test's own capture (``caplog``) kept beside it; everything restored afterwards."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from pledge.logs import configure_logging

_CONFIGURED = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "httpcore", "httpx", "botocore")


@pytest.fixture
def served_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """At ``PLEDGE_LOG_LEVEL`` INFO, or the level a test parametrizes it with (``indirect=True``)."""
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate)
        for logger in (logging.getLogger(name) for name in _CONFIGURED)
    ]
    stream = io.StringIO()
    configure_logging(getattr(request, "param", "INFO"), stream=stream)
    logging.getLogger().addHandler(caplog.handler)  # configure_logging replaced the root's handlers
    yield stream
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
