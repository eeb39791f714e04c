"""The claims the running settings prove: retention never below the statement, HTTPS only, a private keyring
file (S4, S5, S12). Each check reads the settings the process runs with and the files they name."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from pledge.config import Settings
from pledge.promises import Claim, Evidence, Section


class Configured(Protocol):
    """The deployment as these checks read it: the settings it runs with."""

    @property
    def settings(self) -> Settings: ...


class StatedRetention(Protocol):
    @property
    def backup_retention_days(self) -> int: ...

    @property
    def minimum_backup_retention_days(self) -> int: ...

    @property
    def deletion_grace_days(self) -> int: ...


def check_retention_settings(deployment: Configured, facts: StatedRetention) -> Evidence:
    settings = deployment.settings
    detail = (
        f"backups kept {settings.backup_retention_days} days (stated {facts.backup_retention_days}, "
        f"at least {facts.minimum_backup_retention_days}); uninstalled sites kept "
        f"{settings.deletion_grace_days} days (stated {facts.deletion_grace_days})"
    )
    holds = (
        settings.backup_retention_days >= max(facts.backup_retention_days, facts.minimum_backup_retention_days)
        and settings.deletion_grace_days >= facts.deletion_grace_days
    )
    return Evidence(holds, detail)


def check_https(deployment: Configured, facts: object) -> Evidence:
    settings = deployment.settings
    if settings.dev_mode:
        return Evidence(False, f"development mode: plain HTTP is served at {settings.public_url}")
    if not settings.public_url.startswith("https://"):
        return Evidence(False, f"the public URL {settings.public_url} is not https")
    return Evidence(True, f"public URL {settings.public_url}; development mode off")


def _mode(path: Path) -> int | None:
    """Permission bits of the file, None when there is no such file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def check_keyring_private(deployment: Configured, facts: object) -> Evidence:
    path = deployment.settings.resolved_keyring_path
    mode = _mode(path)
    if mode is None:
        return Evidence(False, f"no keyring file at {path}")
    if mode & 0o077:
        return Evidence(False, f"{path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`")
    return Evidence(True, f"{path} has mode {mode:04o}")


RETENTION_SETTINGS: Claim[Configured, StatedRetention] = Claim(
    "retention-settings",
    "S5",
    Section.BACKUP,
    "The retention settings never fall below this statement: backups are configured to be kept "
    "{facts.backup_retention_days} days (never less than {facts.minimum_backup_retention_days}), and an "
    "uninstalled site's data {facts.deletion_grace_days} days.",
    check_retention_settings,
)
HTTPS_ONLY: Claim[Configured, object] = Claim(
    "https-only",
    "S12",
    Section.SECURITY,
    "The server's public address is HTTPS only: outside development mode Pledge refuses to start with a "
    "plain-HTTP address.",
    check_https,
)
KEYRING_PRIVATE: Claim[Configured, object] = Claim(
    "keyring-private",
    "S4",
    Section.SECURITY,
    "Encryption keys are kept apart from the data: each site has its own data key, wrapped by "
    "key-encryption keys held in a keyring file that only the server's account can read.",
    check_keyring_private,
)

CLAIMS: tuple[Claim[Configured, StatedRetention], ...] = (RETENTION_SETTINGS, HTTPS_ONLY, KEYRING_PRIVATE)
"""The settings' claims; :mod:`pledge.statement.claims` places them in the statement."""
