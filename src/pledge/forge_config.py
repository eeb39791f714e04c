"""How an app declares itself as a Forge Remote: its Forge app id, its remote, and the events it listens to (S11).

The app id is the ``aud`` every FIT must carry; nothing about the Forge side is guessed from a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_APP_ID = re.compile(r"ari:cloud:ecosystem::app/[A-Za-z0-9-]{1,64}")
_EVENT = re.compile(r"avi:[a-z0-9.-]+:[a-z0-9_.-]+:[a-z0-9_.:-]+")
_REMOTE_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class ForgeConfig:
    """``App(..., forge=ForgeConfig(app_id="ari:cloud:ecosystem::app/<uuid>", events={...}))``."""

    app_id: str
    """The Forge app id from ``forge register`` (``app.id`` in manifest.yml)."""
    events: Mapping[str, str] = field(default_factory=dict)
    """Product events delivered by a Forge trigger, by event name → the path of an ``Auth.FORGE`` POST route."""
    remote_key: str = "pledge"
    """The key of the remote in manifest.yml."""
    max_migration_hours: int = 6
    """``maxMigrationDurationHours`` of the data residency migration module."""

    def __post_init__(self) -> None:
        if not _APP_ID.fullmatch(self.app_id):
            raise ValueError(f"Forge app id {self.app_id!r} must look like ari:cloud:ecosystem::app/<uuid>")
        if not _REMOTE_KEY.fullmatch(self.remote_key):
            raise ValueError(f"remote key {self.remote_key!r} must be lower-case letters, digits and '-'")
        for event in self.events:
            if not _EVENT.fullmatch(event):
                raise ValueError(f"{event!r} is not a Forge event name such as avi:jira:created:issue")
