"""Below every client: the serving process refuses any network connection to a destination it has not declared (S13).

:class:`~pledge.egress.client.OutboundClient` guards the requests Pledge itself sends. Libraries that open their own
connections (boto3, smtplib) and an app's own code would pass beside it; this guard sits under all of them, on the
interpreter's audit events:

- ``socket.getaddrinfo``: a host name is resolved only if it is declared (an allowed origin's host, or a host under
  one of the tenants' product domains). The names a declared host resolved to are remembered.
- ``socket.connect`` and ``socket.sendto``: an internet address is reached only if it is loopback (the deployment's
  own machine), declared as an address literal, or one a declared host resolved to; a host name passed straight to
  ``connect`` is judged as a name. Unix sockets are not network connections and pass.

A refusal raises :class:`SocketRefused`, a ``PermissionError``: every client reports it as the destination being
unreachable, and nothing is sent. It is logged (destination only, never payload) and counted with the outbound
client's refusals, across instances.

``sys.addaudithook`` cannot be undone: the hook is added once per process and asks the guard :func:`guarding` has
installed for as long as a server runs; with none installed it lets everything through. Connections opened by C code
that bypasses Python's socket module (libpq, under psycopg) raise no audit event; the database is the deployment's
own, named in its settings.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from pledge.cache import ExpiringCache
from pledge.config import is_loopback, under_domain

log = logging.getLogger("pledge.egress")

AUDITED: Final = frozenset({"socket.getaddrinfo", "socket.connect", "socket.sendto"})
RESOLVED_TTL_SECONDS: Final = 600.0
RESOLVED_LIMIT: Final = 4096
_NETWORK_FAMILIES: Final = (socket.AF_INET, socket.AF_INET6)


class SocketRefused(PermissionError):
    """A connection the egress guard refused: its destination is not declared (S13)."""


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """What the process may connect to: declared hosts (names and address literals) and tenants' product domains."""

    hosts: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def of(cls, origins: Iterable[str], domains: Iterable[str], *, also: Iterable[str] = ()) -> EgressPolicy:
        """The hosts of ``origins`` (URLs) and the bare hosts ``also``; ``domains`` cover every host under them."""
        hosts = {_host(urlsplit(url).hostname or "") for url in origins} | {_host(host) for host in also}
        return cls(frozenset(hosts - {""}), frozenset(_host(domain) for domain in domains))

    def allows_name(self, host: str) -> bool:
        name = _host(host)
        return name in self.hosts or is_loopback(name) or under_domain(name, self.domains)


class SocketGuard:
    """The policy applied to audit events; ``on_refusal`` is told each refused destination (to count it)."""

    def __init__(self, policy: EgressPolicy, on_refusal: Callable[[], None] = lambda: None) -> None:
        self.policy = policy
        self._on_refusal = on_refusal
        self._resolved: ExpiringCache[str, bool] = ExpiringCache(RESOLVED_LIMIT, RESOLVED_TTL_SECONDS)
        self._refusing = threading.local()

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.getaddrinfo":
            self.judge(args[0], args[1])
        elif event in ("socket.connect", "socket.sendto"):
            sock, address = args[0], args[-1]
            if getattr(sock, "family", None) in _NETWORK_FAMILIES and isinstance(address, tuple) and address:
                self._check_address(str(address[0]), address[1] if len(address) > 1 else "")

    def judge(self, host: object, port: object) -> None:
        """Refuse a destination about to be resolved or reached: a host name or an address, as a client gave it."""
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host and not self.policy.allows_name(str(host)) and not self._known_address(str(host)):
            self._refuse(f"{host}:{port}" if port else str(host))

    def remember(self, results: Iterable[tuple[Any, ...]]) -> None:
        """The addresses a declared host resolved to: a connection to them is allowed for a while."""
        for result in results:
            sockaddr = result[4]
            if sockaddr:
                self._resolved.put(_host(str(sockaddr[0])), True)

    def _check_address(self, host: str, port: object) -> None:
        if self._known_address(host) or (not _is_address(host) and self.policy.allows_name(host)):
            return
        self._refuse(f"{host}:{port}")

    def _known_address(self, host: str) -> bool:
        name = _host(host)
        return _is_address(name) and (
            is_loopback(name) or name in self.policy.hosts or self._resolved.get(name) is not None
        )

    def _refuse(self, destination: str) -> None:
        log.warning("egress refused: a connection to %s (not a declared destination)", destination)
        # Counting writes to the database: a refusal raised while counting must not count itself again.
        if not getattr(self._refusing, "active", False):
            self._refusing.active = True
            try:
                self._on_refusal()
            except Exception:
                log.exception("egress refusal not counted")
            finally:
                self._refusing.active = False
        raise SocketRefused(f"egress refused: {destination} is not a declared destination")


class _ProcessHook:
    """The process's one audit hook and the guard it asks (``sys.addaudithook`` is process-wide and permanent)."""

    def __init__(self) -> None:
        self.guards: list[SocketGuard] = []
        self._lock = threading.Lock()
        self._added = False
        self._getaddrinfo = socket.getaddrinfo

    def add_once(self) -> None:
        with self._lock:
            if self._added:
                return
            sys.addaudithook(self._audit)
            # Every client resolves through socket.getaddrinfo, looked up when called: wrapped, what a declared
            # host resolved to is seen, and a connection to that address is let through.
            socket.getaddrinfo = self._resolve
            self._added = True

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event in AUDITED and self.guards:
            self.guards[-1].audit(event, args)

    def _resolve(self, host: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        results = self._getaddrinfo(host, *args, **kwargs)  # the audit event (and a refusal) comes first
        if self.guards:
            self.guards[-1].remember(results)
        return results


_PROCESS: Final = _ProcessHook()


@contextmanager
def guarding(guard: SocketGuard) -> Iterator[SocketGuard]:
    """Apply ``guard`` to every connection the process opens until the block ends (the newest guard applies)."""
    _PROCESS.add_once()
    _PROCESS.guards.append(guard)
    try:
        yield guard
    finally:
        _PROCESS.guards.remove(guard)


def active_guard() -> SocketGuard | None:
    """The guard this process applies now, if any."""
    return _PROCESS.guards[-1] if _PROCESS.guards else None


def _host(host: str) -> str:
    return host.strip().rstrip(".").lower().removeprefix("[").removesuffix("]")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
