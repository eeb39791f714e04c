"""Where backups are kept: a flat namespace of immutable objects, each written whole or not at all.

A target knows nothing of the backup format: it stores bytes under names. Two implementations: a local directory
(:mod:`pledge.backup.directory`) and S3-compatible object storage (:mod:`pledge.backup.s3`). Object names are
chosen by Pledge, never by a request, and are checked here all the same, so no name can reach outside the target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Protocol

from pledge.errors import PledgeError

OBJECT_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}(/[a-z0-9][a-z0-9._-]{0,127}){0,7}")
"""Lower-case path segments joined by ``/``; no segment starts with a dot, so ``..`` and hidden files cannot occur."""


class TargetError(PledgeError):
    """The target could not do what was asked; the message names the target, never a credential."""


class TargetUnavailable(TargetError):
    """The target cannot be reached or refused the operation (network, permissions, disk full): retry later."""


class ObjectMissing(TargetError):
    """No object of that name."""


class ObjectExists(TargetError):
    """An object of that name exists: objects are immutable and never overwritten."""


class ObjectLocked(TargetError):
    """The object is under retention (S3 Object Lock) and cannot be deleted yet."""


def checked_name(name: str) -> str:
    """``name`` if it is a valid object name, else :class:`ValueError` (a programming error, not an input)."""
    if not OBJECT_NAME.fullmatch(name):
        raise ValueError(f"not a backup object name: {name!r}")
    return name


class BackupTarget(Protocol):
    """A store of immutable objects. Every method may raise :class:`TargetUnavailable`."""

    @property
    def description(self) -> str:
        """Where this is, for humans and logs: ``directory /srv/backups`` or ``s3://bucket/prefix`` (no secrets)."""
        ...

    def put(self, name: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        """Store ``data`` under ``name``, atomically: a reader sees the whole object or none. :class:`ObjectExists`
        if the name is taken. ``retain_until``: where the target supports it (S3 Object Lock, COMPLIANCE mode), the
        object cannot be deleted before then; elsewhere it is ignored (pruning honours the manifest's dates)."""
        ...

    def get(self, name: str) -> bytes:
        """The object's bytes; :class:`ObjectMissing` if there is none."""
        ...

    def list(self, prefix: str = "") -> Sequence[str]:
        """Names of the objects whose name starts with ``prefix``, sorted."""
        ...

    def delete(self, name: str) -> None:
        """Remove the object (no error if it is gone); :class:`ObjectLocked` while it is retained."""
        ...
