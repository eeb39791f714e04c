"""``pledge serve``: migrate under a lock, then serve the configured apps until SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from types import FrameType

import click
import uvicorn

from pledge import schema
from pledge.cli.common import load_apps, open_runtime, settings_from
from pledge.cli.jobs import job_runner
from pledge.config import Settings
from pledge.errors import ConfigurationError
from pledge.host import create_host
from pledge.logs import configure_logging
from pledge.request_head import BoundedHttpToolsProtocol
from pledge.statement.pages import serve_statement

log = logging.getLogger("pledge.serve")

# Uvicorn drains in-flight requests on SIGTERM; this bounds how long a stuck one may delay shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 20


@click.command()
@click.option("--host", help="Bind address (default from PLEDGE_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default from PLEDGE_PORT, 8000).")
@click.option("--app", "apps", multiple=True, help="App to serve as module:attribute (repeatable).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, apps: tuple[str, ...]) -> None:
    """Serve the apps over HTTP, with /healthz, /readyz and /metrics."""
    settings = settings_from(ctx, host=host, port=port, apps=apps or None)
    run(settings)


def run(settings: Settings) -> None:
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stop_with_success)
    configure_logging(settings.log_level)
    loaded = load_apps(settings.apps)
    # Bound before anything else happens: a busy port is one line and status 2, not a statement published by a
    # server that then cannot start.
    listening = bind(settings.host, settings.port)
    with listening, open_runtime(settings) as runtime:
        log.info("schema: %s", schema.upgrade(runtime.engine).describe())
        host = create_host(
            runtime,
            loaded,
            extra_routes=asyncio.run(serve_statement(runtime, loaded)),
            owns_runtime=True,
            jobs=job_runner(runtime, loaded),
        )
        log.info("serving %d app(s) at %s", len(loaded), settings.public_url)
        config = uvicorn.Config(
            host,
            host=settings.host,
            port=settings.port,
            http=BoundedHttpToolsProtocol,
            log_config=None,
            # The host writes the access line itself, by route template (pledge.metrics).
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        uvicorn.Server(config).run(sockets=[listening])


def bind(host: str, port: int) -> socket.socket:
    """The listening socket of ``host:port`` (uvicorn listens on it), or the one line saying why it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror}: stop what uses it or set PLEDGE_PORT / --port"
        ) from None
    return sock


def _stop_with_success(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM (or Ctrl+C) is how an operator stops Pledge: status 0, not "killed by signal" or "Aborted!".

    While serving, uvicorn handles the signal itself (stop accepting, drain, shut down) and only then re-raises it
    to the handler it found, this one. Before serving (migrations), the start-up simply stops; the runtime still
    closes.
    """
    raise SystemExit(0)
