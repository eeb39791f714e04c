"""The target ``PLEDGE_BACKUP_TARGET`` names: ``file:///absolute/path`` (default: ``<data dir>/backups``) or
``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pledge.backup.directory import DirectoryTarget
from pledge.backup.target import BackupTarget
from pledge.config import Settings
from pledge.egress.client import OutboundClient
from pledge.errors import ConfigurationError


def open_target(settings: Settings, egress: OutboundClient) -> BackupTarget:
    """The configured target; an ``s3://`` one sends every request through ``egress``'s allowlist (S13)."""
    url = settings.backup_target
    if url is None:
        return DirectoryTarget(settings.data_dir.resolve() / "backups")
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return DirectoryTarget(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from pledge.backup.s3 import S3Target  # boto3 loads only where an S3 target is configured

        return S3Target.from_settings(settings, egress)
    raise ConfigurationError("PLEDGE_BACKUP_TARGET must be file:///absolute/path or s3://bucket/prefix")
