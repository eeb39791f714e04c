"""Where the live database is, as its own connection reports it: the evidence the hosting claims read (S1, S4).

SQLite names the file it has open (``PRAGMA database_list``); PostgreSQL the address it answers from
(``inet_server_addr()``, NULL over a Unix socket). Neither comes from the settings the statement was rendered from.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    engine: str
    """``SQLite`` or ``PostgreSQL``, as the statement names them."""
    path: Path | None = None
    """The SQLite file the connection has open."""
    address: str | None = None
    """The address the PostgreSQL server answers from; None over a Unix socket."""

    @property
    def on_this_host(self) -> bool:
        """The database is on the machine running this process: a local file, a Unix socket or a loopback address."""
        if self.path is not None:
            return True
        return self.address is None or ipaddress.ip_address(self.address).is_loopback

    def within(self, networks: Iterable[str]) -> bool:
        """The server's address lies in one of ``networks`` (addresses or CIDR networks)."""
        if self.address is None:
            return False
        address = ipaddress.ip_address(self.address)
        return any(address in ipaddress.ip_network(network, strict=False) for network in networks)

    def describe(self) -> str:
        if self.path is not None:
            return f"SQLite file {self.path} on this host"
        return f"PostgreSQL answering from {self.address or 'a Unix socket on this host'}"


def engine_name(dialect: str) -> str:
    return "PostgreSQL" if dialect.startswith("postgresql") else "SQLite"


def database_location(engine: Engine) -> DatabaseLocation:
    """Ask the live connection where the database is."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            files = [row[2] for row in connection.execute(text("PRAGMA database_list")) if row[1] == "main"]
            path = Path(files[0]) if files and files[0] else None
            if path is None or not os.path.isfile(path):
                raise FileNotFoundError("the SQLite database is not a file on this host (in memory?)")
            return DatabaseLocation("SQLite", path=path)
        address = connection.execute(text("SELECT host(inet_server_addr())")).scalar()
        return DatabaseLocation(engine_name(engine.dialect.name), address=address)


def same_filesystem(first: Path, second: Path) -> bool:
    """Both files live on one filesystem (one device): a copy of that disk holds both."""
    return os.stat(first).st_dev == os.stat(second).st_dev
