"""S3-compatible object storage as a backup target, through boto3 (AWS S3, SeaweedFS, MinIO, …).

- **Never overwrites.** A put first asks whether the name is taken, then sends ``If-None-Match: *``, so the server
  itself refuses a put that lost a race. A server that ignores the header (some S3-compatible ones do) leaves a
  window between the question and the put: two writers of one name at once could both succeed there. Pledge's
  names are unique per run (a run writes under its own id), so only a second run with the same id meets it.
- **Atomic.** S3 makes an object visible whole when its upload completes, or not at all.
- **Retention.** With S3 Object Lock on the bucket, ``retain_until`` becomes a COMPLIANCE-mode retention of the
  object: nobody, the root account included, can delete it earlier; a delete then raises :class:`ObjectLocked`.
  Without Object Lock the date is not enforced here (pruning honours the manifest's dates), unless the settings
  require Object Lock, which refuses such a bucket.
- **Bounded.** Every request has connect and read timeouts and a bounded number of attempts: a dead or stalled
  server fails the backup with :class:`TargetUnavailable`, it never hangs it.
- **Egress (S13).** boto3 does not send through :class:`pledge.egress.OutboundClient`; each request it is about to
  send is checked against that client's allowlist and against this bucket, and refused before its first byte.
- **No credentials in messages.** Errors name the target, the operation and the server's error code; never a key,
  and never the server's own message text (which can echo the access key id).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError
from pydantic import SecretStr

from pledge.backup.s3_location import S3Location
from pledge.backup.target import (
    OBJECT_NAME,
    ObjectExists,
    ObjectLocked,
    ObjectMissing,
    TargetError,
    TargetUnavailable,
    checked_name,
)
from pledge.config import ENV_PREFIX, Settings
from pledge.egress import EgressRefused, OutboundClient
from pledge.egress.client import origin
from pledge.errors import ConfigurationError

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("pledge.backup")

_NAME_PREFIX: Final = re.compile(r"[a-z0-9._/-]{0,1100}")
_SAFE_CODE: Final = re.compile(r"[A-Za-z0-9.]{1,64}")
_MISSING: Final = frozenset({"NoSuchKey", "NotFound", "404"})
_TAKEN: Final = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
_NO_LOCK: Final = frozenset({"ObjectLockConfigurationNotFoundError", "NotImplemented"})
_NO_CREDENTIALS: Final = (
    f"no credentials: set {ENV_PREFIX}BACKUP_S3_ACCESS_KEY_ID and {ENV_PREFIX}BACKUP_S3_SECRET_ACCESS_KEY, or "
    "give boto3 its own (AWS_* variables, ~/.aws, an instance role)"
)


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: SecretStr
    secret_access_key: SecretStr


@dataclass(frozen=True)
class S3Limits:
    """Bounds on every request, so that a dead or stalled server fails a backup instead of hanging it."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 3
    """In all, the first included; botocore's standard retry mode backs off between them (5xx, throttling,
    connection errors)."""
    page_size: int = 1000
    """Keys per listing request (S3's own maximum)."""


class S3Target:
    """A bucket (and prefix) of S3-compatible storage; see the module's description for what it guarantees."""

    def __init__(
        self,
        location: S3Location,
        egress: OutboundClient,
        *,
        credentials: S3Credentials | None = None,
        require_object_lock: bool = False,
        limits: S3Limits | None = None,
    ) -> None:
        """``credentials``: None lets boto3 find its own. :class:`EgressRefused` at once if the egress allowlist
        does not hold the bucket's origin (see :attr:`S3Location.origin`)."""
        egress.check_destination(location.origin)
        limits = limits or S3Limits()
        self._location = location
        self._egress = egress
        self._require_object_lock = require_object_lock
        self._page_size = limits.page_size
        self._object_lock: bool | None = None
        config = Config(
            connect_timeout=limits.connect_timeout,
            read_timeout=limits.read_timeout,
            retries={"mode": "standard", "total_max_attempts": limits.attempts},
            s3={"addressing_style": "path" if location.addressed_in_path else "virtual"},
            signature_version="s3v4",
        )
        # A session of its own: boto3's default session is module state shared with whatever else uses boto3.
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=location.endpoint_url,
            region_name=location.region,
            aws_access_key_id=credentials.access_key_id.get_secret_value() if credentials else None,
            aws_secret_access_key=credentials.secret_access_key.get_secret_value() if credentials else None,
            config=config,
        )
        self._client.meta.events.register("before-send.s3", self._refuse_other_destinations)

    @classmethod
    def from_settings(cls, settings: Settings, egress: OutboundClient) -> S3Target:
        """The target ``backup_target = s3://…`` names, with the ``backup_s3_*`` settings."""
        location = S3Location.from_settings(settings)
        if location is None:
            raise ConfigurationError(f"{ENV_PREFIX}BACKUP_TARGET is not an s3://bucket/prefix URL")
        key_id, secret = settings.backup_s3_access_key_id, settings.backup_s3_secret_access_key
        return cls(
            location,
            egress,
            credentials=S3Credentials(key_id, secret) if key_id is not None and secret is not None else None,
            require_object_lock=settings.backup_s3_require_object_lock,
        )

    @property
    def description(self) -> str:
        return self._location.description

    @property
    def object_lock(self) -> bool:
        """Whether the bucket has S3 Object Lock, so that ``retain_until`` is enforced by the server."""
        self._checked()
        return self._object_lock is True

    def check(self) -> None:
        """Ask the server about the bucket: :class:`TargetUnavailable` with the reason when it cannot be used (it
        does not exist, the credentials are refused, Object Lock is required and off)."""
        with self._calls("checking the bucket"):
            try:
                configuration = self._client.get_object_lock_configuration(Bucket=self._location.bucket)
                enabled = configuration.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError as exc:
                if _code(exc) not in _NO_LOCK:
                    raise
                enabled = False
        if not enabled and self._require_object_lock:
            raise TargetUnavailable(
                f"{self.description}: the bucket has no S3 Object Lock, which "
                f"{ENV_PREFIX}BACKUP_S3_REQUIRE_OBJECT_LOCK requires: create a bucket with Object Lock enabled "
                "(docs/backup-s3.md)"
            )
        if not enabled:
            log.info("%s: no S3 Object Lock on the bucket: retention dates are kept by pruning alone", self.description)
        self._object_lock = enabled

    def put(self, name: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        key = self._key(name)
        if retain_until is not None and retain_until.tzinfo is None:
            raise ValueError("retain_until must carry a time zone")
        arguments: dict[str, Any] = {"Bucket": self._location.bucket, "Key": key, "Body": data}
        if self.object_lock and retain_until is not None:
            arguments |= {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
        with self._calls(f"storing {name}"):
            if self._exists(key):
                raise ObjectExists(f"{self.description}: {name} exists; backup objects are never overwritten")
            try:
                self._client.put_object(IfNoneMatch="*", **arguments)
            except ClientError as exc:
                if _code(exc) in _TAKEN:
                    raise ObjectExists(f"{self.description}: {name} was stored by another writer first") from None
                if _code(exc) != "NotImplemented":
                    raise
                self._client.put_object(**arguments)  # a server without conditional puts: the check above stands

    def get(self, name: str) -> bytes:
        key = self._key(name)
        self._checked()
        with self._calls(f"reading {name}"):
            try:
                response = self._client.get_object(Bucket=self._location.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise ObjectMissing(f"{self.description}: no object {name}") from None
                raise
            return response["Body"].read()

    def list(self, prefix: str = "") -> Sequence[str]:
        if not _NAME_PREFIX.fullmatch(prefix):
            raise ValueError(f"not a prefix of backup object names: {prefix!r}")
        self._checked()
        names: list[str] = []
        foreign = 0
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._location.bucket,
            Prefix=self._location.prefix + prefix,
            PaginationConfig={"PageSize": self._page_size},
        )
        with self._calls("listing"):
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].removeprefix(self._location.prefix)
                    if OBJECT_NAME.fullmatch(name):
                        names.append(name)
                    else:
                        foreign += 1
        if foreign:
            log.warning("%s: %d objects whose names are not backup object names left out", self.description, foreign)
        return sorted(names)

    def delete(self, name: str) -> None:
        key = self._key(name)
        with self._calls(f"deleting {name}"):
            if not self.object_lock:
                self._client.delete_object(Bucket=self._location.bucket, Key=key)
                return
            # A versioned bucket keeps a plain delete's object as an old version behind a delete marker: hidden
            # from listings, still stored, and its retention never surfaces. Each version goes, or none can.
            for version_id in self._versions(key):
                try:
                    self._client.delete_object(Bucket=self._location.bucket, Key=key, VersionId=version_id)
                except ClientError as exc:
                    if _status(exc) == 403 and self._retained(key, version_id):
                        raise ObjectLocked(f"{self.description}: {name} is under Object Lock retention") from None
                    raise

    def close(self) -> None:
        self._client.close()

    def _checked(self) -> None:
        """Once per target, before its first request: the bucket exists and is usable (see :meth:`check`)."""
        if self._object_lock is None:
            self.check()

    def _key(self, name: str) -> str:
        return self._location.prefix + checked_name(name)

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._location.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    def _versions(self, key: str) -> tuple[str, ...]:
        pages = self._client.get_paginator("list_object_versions").paginate(
            Bucket=self._location.bucket, Prefix=key, PaginationConfig={"PageSize": self._page_size}
        )
        return tuple(
            entry["VersionId"]
            for page in pages
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            if entry.get("Key") == key and "VersionId" in entry
        )

    def _retained(self, key: str, version_id: str) -> bool:
        """Whether the version is under retention or legal hold, by the server's own clock (its Date header)."""
        head = self._client.head_object(Bucket=self._location.bucket, Key=key, VersionId=version_id)
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return True
        until = head.get("ObjectLockRetainUntilDate")
        server_now = head["ResponseMetadata"]["HTTPHeaders"].get("date")
        if until is None or server_now is None:
            return until is not None
        return until > parsedate_to_datetime(server_now)

    def _refuse_other_destinations(self, request: AWSPreparedRequest, **_: Any) -> None:
        """botocore's ``before-send`` hook: the egress allowlist first, then this bucket (another bucket at the same
        endpoint is another destination)."""
        self._egress.check_destination(request.url)
        if not self._location.addresses(request.url):
            log.warning(
                "egress refused: a request to %s outside the bucket of %s", origin(request.url), self.description
            )
            raise EgressRefused(f"refused outbound request to {origin(request.url)}: not the bucket {self.description}")

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """boto3's failures as target errors that name the target and the operation, never a credential."""
        try:
            yield
        except ClientError as exc:
            raise self._refusal(exc, doing) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise TargetUnavailable(f"{self.description}: {doing}: {_NO_CREDENTIALS}") from None
        except BotoCoreError as exc:
            raise TargetUnavailable(
                f"{self.description}: {doing}: {self._location.origin} unreachable ({type(exc).__name__}); retry later"
            ) from None

    def _refusal(self, exc: ClientError, doing: str) -> TargetError:
        code, status = _code(exc), _status(exc)
        if code == "NoSuchBucket":
            return TargetUnavailable(
                f"{self.description}: the bucket {self._location.bucket} does not exist at "
                f"{self._location.endpoint_url}: create it (docs/backup-s3.md)"
            )
        if status in (401, 403):
            return TargetUnavailable(
                f"{self.description}: {doing}: access denied ({code}): check the credentials and the bucket's policy"
            )
        later = "; retry later" if status >= 500 or status == 429 else ""
        return TargetUnavailable(f"{self.description}: {doing}: the server answered {status} {code}{later}")


def _code(exc: ClientError) -> str:
    """The error code the server sent, if it has the shape of one (it is echoed in messages)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code if _SAFE_CODE.fullmatch(code) else "error"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
