"""The keyring's claim: a private keyring file, where the statement says it is next to the database (S4). The check
reads the file the running settings name and asks the live database connection where the data is."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from pledge.config import Settings
from pledge.hosting import database_location, same_filesystem
from pledge.promises import Claim, Evidence, Section


class Configured(Protocol):
    """The deployment as these checks read it: the settings it runs with and its database."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...


class StatedKeyring(Protocol):
    @property
    def keyring_placement(self) -> str: ...


def _mode(path: Path) -> int | None:
    """Permission bits of the file, None when there is no such file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def check_keyring_private(deployment: Configured, facts: StatedKeyring) -> Evidence:
    """The keyring file is private to the server's account, and where the statement says it is apart from the
    database, the live database is on another filesystem or host."""
    path = deployment.settings.resolved_keyring_path
    mode = _mode(path)
    if mode is None:
        return Evidence(False, f"no keyring file at {path}")
    if mode & 0o077:
        return Evidence(False, f"{path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`")
    private = f"{path} has mode {mode:04o}"
    if facts.keyring_placement != "apart":
        where = "beside the database file" if facts.keyring_placement == "beside" else "on the database's host"
        return Evidence(True, f"{private}; {where}, as stated")
    location = database_location(deployment.engine)
    if location.path is not None:
        if same_filesystem(path, location.path):
            return Evidence(False, f"the keyring and the database file {location.path} are on one filesystem")
        return Evidence(True, f"{private}; the database file {location.path} is on another filesystem")
    if location.on_this_host:
        return Evidence(False, "the database runs on this host: nothing keeps the keyring apart from its files")
    return Evidence(True, f"{private}; the database answers from another host ({location.address})")


KEYRING_PRIVATE: Claim[Configured, StatedKeyring] = Claim(
    "keyring-private",
    "S4",
    Section.SECURITY,
    "Encryption keys: each site has its own data key, wrapped by key-encryption keys held in a keyring file "
    "that only the server's account can read. {facts.keyring_text}",
    check_keyring_private,
)

CLAIMS: tuple[Claim[Configured, StatedKeyring], ...] = (KEYRING_PRIVATE,)
"""The settings' claims; :mod:`pledge.statement.claims` places them in the statement."""
