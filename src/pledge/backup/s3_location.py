"""Where an S3 backup target is: bucket, prefix, endpoint, region and how requests address the bucket.

Kept apart from :mod:`pledge.backup.s3` (and from boto3) because the runtime needs the one origin the bucket's
requests go to for the egress allowlist (S13) before any backup code runs. The origin is computed here by the
rule botocore follows, and each request is checked against it when it is sent, so the two cannot drift apart
unnoticed: a request elsewhere is refused.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from pledge.config import ENV_PREFIX, Settings
from pledge.egress.client import origin
from pledge.errors import ConfigurationError

SCHEME: Final = "s3://"
# S3's own rule for bucket names (lower case, digits, dots and hyphens; 3 to 63 characters; no ".." or IP shape).
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# A prefix chosen by the operator: path segments of letters, digits, '.', '_' and '-', none starting with a dot.
_PREFIX: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    """Empty, or path segments ending in ``/``: object ``name`` is stored under the key ``prefix + name``."""
    endpoint_url: str
    region: str
    path_style: bool

    @classmethod
    def parse(cls, url: str, *, endpoint_url: str | None, region: str, path_style: bool) -> S3Location:
        """``s3://bucket[/prefix]`` at ``endpoint_url`` (default: AWS S3's regional endpoint of ``region``)."""
        if not url.startswith(SCHEME):
            raise ConfigurationError(f"{ENV_PREFIX}BACKUP_TARGET={url!r} is not an s3://bucket/prefix URL")
        bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
        prefix = prefix.strip("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket or _is_ip(bucket):
            raise ConfigurationError(
                f"{ENV_PREFIX}BACKUP_TARGET={url!r}: {bucket!r} is not an S3 bucket name (3 to 63 lower-case "
                "letters, digits, dots and hyphens)"
            )
        if prefix and not _PREFIX.fullmatch(prefix):
            raise ConfigurationError(
                f"{ENV_PREFIX}BACKUP_TARGET={url!r}: the prefix must be path segments of letters, digits, '.', '_' "
                "and '-', none starting with a dot"
            )
        return cls(
            bucket=bucket,
            prefix=f"{prefix}/" if prefix else "",
            endpoint_url=(endpoint_url or f"https://s3.{region}.amazonaws.com").rstrip("/"),
            region=region,
            path_style=path_style,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Location | None:
        """The S3 location ``backup_target`` names, or None when backups go elsewhere."""
        target = settings.backup_target
        if target is None or not target.startswith(SCHEME):
            return None
        return cls.parse(
            target,
            endpoint_url=settings.backup_s3_endpoint_url,
            region=settings.backup_s3_region or settings.region,
            path_style=settings.backup_s3_path_style,
        )

    @property
    def description(self) -> str:
        """``s3://bucket/prefix``: names the target in messages, never its credentials."""
        return f"{SCHEME}{self.bucket}" + (f"/{self.prefix.rstrip('/')}" if self.prefix else "")

    @property
    def addressed_in_path(self) -> bool:
        """Whether requests name the bucket in the path: when asked, and (as botocore decides) when the bucket
        cannot be a host name label: the endpoint is an IP address, or a dotted name would break HTTPS's
        wildcard certificate."""
        parts = urlsplit(self.endpoint_url)
        dotted_over_tls = "." in self.bucket and parts.scheme == "https"
        return self.path_style or _is_ip(parts.hostname or "") or dotted_over_tls

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` every request to the bucket goes to: the one the egress allowlist needs."""
        endpoint = origin(self.endpoint_url)
        if self.addressed_in_path:
            return endpoint
        scheme, _, host = endpoint.partition("://")
        return f"{scheme}://{self.bucket}.{host}"

    def addresses(self, url: str) -> bool:
        """Whether ``url`` is a request to this bucket (its origin, and with path-style addressing its first path
        segment): another bucket behind the same endpoint is another destination."""
        if origin(url) != self.origin:
            return False
        return not self.addressed_in_path or urlsplit(url).path.split("/")[1:2] == [self.bucket]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
