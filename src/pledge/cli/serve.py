"""``pledge serve``: migrate under a lock, then serve the configured apps until SIGTERM or Ctrl+C.

With ``--workers N`` (``PLEDGE_WORKERS``) the process migrates and publishes the statement once, then supervises N
worker processes that serve on its one listening socket, each with a runtime of its own: uvicorn's supervisor
(``uvicorn.supervisors.Multiprocess``) starts them, replaces one that dies, and on SIGTERM or Ctrl+C stops each the
way a single server stops (requests in flight finish). See docs/operations.md.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import click
import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from pledge import schema
from pledge.app import App
from pledge.cli.common import load_apps, open_runtime, settings_from
from pledge.cli.jobs import job_runner
from pledge.config import Settings
from pledge.egress.guarded_loop import new_guarded_loop
from pledge.errors import ConfigurationError, PledgeError
from pledge.host import create_host, egress_guarded
from pledge.logs import configure_logging
from pledge.request_head import BoundedHttpToolsProtocol
from pledge.runtime import Runtime
from pledge.statement.facts import Deployment
from pledge.statement.pages import StatementPages

log = logging.getLogger("pledge.serve")

# Uvicorn drains in-flight requests on SIGTERM; this bounds how long a stuck one may delay shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 20
GUARDED_LOOP = f"{new_guarded_loop.__module__}:{new_guarded_loop.__name__}"


@click.command()
@click.option("--host", help="Bind address (default from PLEDGE_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default from PLEDGE_PORT, 8000).")
@click.option("--app", "apps", multiple=True, help="App to serve as module:attribute (repeatable).")
@click.option("--workers", type=int, help="Worker processes, 1 to 64 (default from PLEDGE_WORKERS, 1).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, apps: tuple[str, ...], workers: int | None) -> None:
    """Serve the apps over HTTPS (or HTTP behind a trusted proxy), with /healthz, /readyz and /metrics."""
    settings = settings_from(ctx, host=host, port=port, apps=apps or None, workers=workers)
    run(settings)


def run(settings: Settings) -> None:
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stop_with_success)
    configure_logging(settings.log_level)
    loaded = load_apps(settings.apps)
    check_tls_files(settings)
    # Bound before anything else happens: a busy port is one line and status 2, not a statement published by a
    # server that then cannot start.
    listening = bind(settings.host, settings.port)
    with listening:
        if settings.workers > 1:
            with open_runtime(settings) as runtime, egress_guarded(runtime, loaded):
                # The supervisor connects out too (it publishes the statement): guarded as its workers are.
                log.info("schema: %s", schema.upgrade(runtime.engine).describe())
                publishing = threading.Thread(target=_publish_once_served, args=(settings, loaded), daemon=True)
                publishing.start()
                supervise(settings, listening)
            return
        with open_runtime(settings) as runtime:
            log.info("schema: %s", schema.upgrade(runtime.engine).describe())
            statement = StatementPages(Deployment.of(runtime, loaded))
            host = create_host(
                runtime, loaded, extra_routes=statement.routes(), owns_runtime=True, jobs=job_runner(runtime, loaded)
            )
            log.info("serving %d app(s) at %s", len(loaded), settings.public_url)
            keep_for_good()
            with asyncio.Runner(loop_factory=new_guarded_loop) as runner:
                runner.run(serve_then_publish(uvicorn.Server(_uvicorn_config(host, settings)), listening, statement))


async def serve_then_publish(server: uvicorn.Server, listening: socket.socket, statement: StatementPages) -> None:
    """Serve, and once the server listens, verify and publish the statement: its checks probe the served address, so
    they must find the server answering (its pages wait for the publication)."""
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        try:
            await statement.publish()
        except BaseException:
            server.should_exit = True
            await serving
            raise
    await serving


def _publish_once_served(settings: Settings, apps: list[App]) -> None:
    """The supervisor's publication under ``--workers``: once a worker answers, verify and publish the statement
    (its checks probe the served address); the workers' pages serve the newest published version."""
    with open_runtime(settings) as runtime:
        pages = StatementPages(Deployment.of(runtime, apps))
        try:
            asyncio.run(pages.publish_when_served())
        except Exception:
            log.exception("the statement could not be published: its pages answer 503 until a restart publishes it")


def tls_1_2_or_later(_config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """Uvicorn's TLS context from the certificate settings, refusing anything older than TLS 1.2 (Atlassian's
    requirement). A function uvicorn calls, not a context: under ``--workers`` each worker makes its own."""
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def check_tls_files(settings: Settings) -> None:
    """The certificate and key load, or one line saying why not: before migrating, rather than a traceback from
    uvicorn (in every worker) once the statement was published."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    except ssl.SSLError:
        raise ConfigurationError(
            "PLEDGE_TLS_CERT_FILE / PLEDGE_TLS_KEY_FILE: not a PEM certificate chain and its matching private key"
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"PLEDGE_TLS_CERT_FILE / PLEDGE_TLS_KEY_FILE cannot be read: {exc.strerror} "
            f"({settings.tls_cert_file}, {settings.tls_key_file})"
        ) from None


def _uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        options |= {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
            "ssl_context_factory": tls_1_2_or_later,
        }
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=BoundedHttpToolsProtocol,
        log_config=None,
        # The host writes the access line itself, by route template (pledge.metrics).
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # uvloop, judging the destinations it connects to in libuv, beneath the egress guard's audit events.
        loop=GUARDED_LOOP,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        **options,
    )


def supervise(settings: Settings, listening: socket.socket) -> None:
    """Run ``settings.workers`` worker processes on ``listening`` until SIGTERM or Ctrl+C, replacing any that dies.

    A worker that fails before it serves would fail the same way again: then every worker is stopped and this
    raises, so the operator reads one line and the process manager sees a failure.
    """
    config = _uvicorn_config(WorkerHost(settings.model_dump()), settings, factory=True, workers=settings.workers)
    log.info("serving with %d worker processes at %s", settings.workers, settings.public_url)
    supervisor = Multiprocess(config, sockets=[listening])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise PledgeError("a worker process failed to start (its log lines above say why): stopped every worker")


@dataclass(frozen=True)
class WorkerHost:
    """The host factory each worker process calls (uvicorn's ``factory``): its own runtime, jobs and caches.

    It travels to the worker pickled, so it holds the settings as plain values; the supervisor has migrated the
    schema and published the statement, so a worker serves the newest published version.
    """

    settings: dict[str, Any]

    def __call__(self) -> Starlette:
        settings = Settings.model_construct(**self.settings)
        configure_logging(settings.log_level)
        loaded = load_apps(settings.apps)
        runtime = Runtime.open(settings)
        routes = StatementPages(Deployment.of(runtime, loaded), published_elsewhere=True).routes()
        host = create_host(runtime, loaded, extra_routes=routes, owns_runtime=True, jobs=job_runner(runtime, loaded))
        keep_for_good()
        return host


def keep_for_good() -> None:
    """Leave what start-up built (modules, apps, the host, the runtime) out of the collector's full passes.

    It lives as long as the process, yet each full pass walked all of it. Requests that await (a Forge call waiting for
    its ``jti`` to be recorded, a store call) are alive when the young generations are collected, so their objects
    are promoted and soon start a full pass: on the Forge route those passes cost more CPU than the token's RSA check.
    Frozen, the passes walk only what was made since; refcounting still frees frozen objects as usual.
    """
    gc.collect()
    gc.freeze()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket of ``host:port`` (uvicorn listens on it), or the one line saying why it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it (Linux). Served from this socket bound here, they had Nagle's algorithm on
    # (plain uvicorn binding its own was not affected): a response's head and body are two writes, and the body
    # waited for the client's delayed ACK, 40 ms (22 requests/s per connection, found by `python -m bench serve`).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
