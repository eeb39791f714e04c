"""What a runtime keeps for each app it serves between requests, such as the Forge app tokens a job calls with.

It lives as long as the runtime, not the process: two runtimes in one process (tests, a CLI command beside a server)
never see each other's, and building a second verifier for an app (the statement's checks do) finds the same
state instead of replacing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


class AppStates:
    """One object of each kind per app key, made on first use: ``states.of(app.key, TokenCache, make)``."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, type[object]], object] = {}
        self._lock = threading.Lock()

    def of(self, app_key: str, kind: type[T], make: Callable[[], T]) -> T:
        with self._lock:
            state = self._states.get((app_key, kind))
            if state is None:
                state = self._states[(app_key, kind)] = make()
        return cast(T, state)
