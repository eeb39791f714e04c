"""A local directory as a backup target: mode 0700, each object a 0600 file written whole or not at all.

An object is written to a temporary file beside it, fsynced, and linked into place under its name (``link`` fails
if the name exists, so an object is never overwritten, even by a racing writer); the directory is fsynced after.
A kill at any moment leaves either the whole object or a hidden temporary file, which is no object (never listed)
and holds only what was being written: sealed bytes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from pledge.backup.target import ObjectExists, ObjectMissing, TargetUnavailable, checked_name

DIRECTORY_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_TEMPORARY_PREFIX = ".tmp-"


class DirectoryTarget:
    """Objects as files under ``root``; names with ``/`` are subdirectories."""

    def __init__(self, root: Path) -> None:
        self._root = root
        try:
            root.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            root.chmod(DIRECTORY_MODE)
        except OSError as exc:
            raise TargetUnavailable(f"backup directory {root} cannot be created: {exc.strerror}") from None

    @property
    def description(self) -> str:
        return f"directory {self._root}"

    @property
    def root(self) -> Path:
        return self._root

    def put(self, name: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        path = self._path(name)
        try:
            _make_private_dirs(self._root, path.parent)
            temporary = path.with_name(f"{_TEMPORARY_PREFIX}{secrets.token_hex(8)}")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
            _fsync_directory(path.parent)
        except FileExistsError:
            raise ObjectExists(f"{self.description}: {name} exists and is never overwritten") from None
        except OSError as exc:
            raise TargetUnavailable(f"{self.description}: cannot write {name}: {exc.strerror}") from None

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(f"{self.description}: no object {name}") from None
        except OSError as exc:
            raise TargetUnavailable(f"{self.description}: cannot read {name}: {exc.strerror}") from None

    def list(self, prefix: str = "") -> Sequence[str]:
        # Only the subtree the prefix names is walked: listing one tenant's keys must not read every backup.
        folder = prefix.rpartition("/")[0]
        start = self._root.joinpath(*folder.split("/")) if folder else self._root
        names = []
        try:
            for directory, subdirectories, files in os.walk(start):
                subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
                relative = Path(directory).relative_to(self._root)
                for file in files:
                    if file.startswith("."):
                        continue
                    name = (relative / file).as_posix()
                    if name.startswith(prefix):
                        names.append(name)
        except OSError as exc:
            raise TargetUnavailable(f"{self.description}: cannot list: {exc.strerror}") from None
        return sorted(names)

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise TargetUnavailable(f"{self.description}: cannot delete {name}: {exc.strerror}") from None
        # Empty directories of a deleted backup go with it; a racing writer recreates what it needs.
        parent = path.parent
        while parent != self._root:
            with contextlib.suppress(OSError):
                parent.rmdir()
            parent = parent.parent

    def _path(self, name: str) -> Path:
        return self._root.joinpath(*checked_name(name).split("/"))


def _make_private_dirs(root: Path, directory: Path) -> None:
    missing = []
    while directory != root and not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIRECTORY_MODE)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
