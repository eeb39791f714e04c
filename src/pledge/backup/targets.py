"""The target ``PLEDGE_BACKUP_TARGET`` names: ``file:///absolute/path`` (default: ``<data dir>/backups``) or
``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pledge.backup.directory import DirectoryTarget
from pledge.backup.target import BackupTarget
from pledge.config import Settings
from pledge.errors import ConfigurationError


def open_target(settings: Settings) -> BackupTarget:
    url = settings.backup_target
    if url is None:
        return DirectoryTarget(settings.data_dir.resolve() / "backups")
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return DirectoryTarget(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        raise ConfigurationError(
            "PLEDGE_BACKUP_TARGET: s3:// targets are not part of this build yet: use file:///absolute/path"
        )
    raise ConfigurationError("PLEDGE_BACKUP_TARGET must be file:///absolute/path or s3://bucket/prefix")
