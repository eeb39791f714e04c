"""The two cache types of the request path, one eviction rule each.

:class:`BoundedCache` holds values derived from untrusted input (header parses, path hashes): cheap to derive again,
kept without expiry, emptied whole when full. :class:`ExpiringCache` holds what must not outlive its time (tenants'
secrets, unwrapped data keys): each entry expires a fixed time after it was put, the least recently used goes first
when full, and expired entries leave memory, not only the answers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import suppress
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
H = TypeVar("H", bound=Hashable)


class BoundedCache(dict[K, V]):
    """A dict that holds at most ``limit`` entries; when full, the next ``put`` empties it first.

    One eviction rule for every cache of derived values: what it holds is cheap to derive again, so dropping it
    whole costs one recomputation per entry, while a flood of new keys (made-up headers, say) cannot grow it. A
    dict subclass, so a hit is the builtin ``dict.get``: these caches sit on paths measured in microseconds.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a bounded cache holds at least one entry")
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit and key not in self:
            self.clear()
        self[key] = value
        return value


class ExpiringCache(Generic[H, V]):
    """At most ``limit`` entries, each valid ``ttl`` seconds from its ``put`` (or its own, shorter, time); when full,
    the least recently used goes first.

    An expired entry is dropped when it is read, and a sweep drops every expired one: on any call once ``ttl`` has
    passed since the last sweep, or when the owner calls :meth:`sweep` (the host does, on a timer), so a secret
    leaves memory when its time is up even if its key is never asked for again.

    Safe to share between the event loop and worker threads without a lock: each step is one atomic operation of
    ``OrderedDict`` (C-implemented, under the GIL), and a step that finds its entry gone by another thread moves on.
    """

    __slots__ = ("_entries", "_monotonic", "_next_sweep", "limit", "ttl")

    def __init__(self, limit: int, ttl: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("a cache holds at least one entry")
        self.limit = limit
        self.ttl = ttl
        self._monotonic = monotonic
        self._entries: OrderedDict[H, tuple[float, V]] = OrderedDict()
        self._next_sweep = monotonic() + ttl

    def get(self, key: H) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._monotonic()
        if now >= entry[0]:
            self._drop(key, entry)
            self._sweep_if_due(now)
            return None
        with suppress(KeyError):  # dropped by another thread meanwhile: this read still had it
            self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: H, value: V, *, ttl: float | None = None) -> V:
        """Hold ``value`` for ``ttl`` seconds (the cache's own by default; a shorter one spreads the expiries of
        entries put together, so they are not all read again at once)."""
        now = self._monotonic()
        self._entries[key] = (now + (self.ttl if ttl is None else ttl), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # emptied by another thread
                break
        self._sweep_if_due(now)
        return value

    def pop(self, key: H) -> None:
        self._entries.pop(key, None)

    def pop_where(self, matches: Callable[[H], bool]) -> None:
        """Drop every entry whose key ``matches``."""
        for key in [key for key in list(self._entries) if matches(key)]:
            self._entries.pop(key, None)

    def sweep(self) -> int:
        """Drop every expired entry now; how many were dropped."""
        now = self._monotonic()
        self._next_sweep = now + self.ttl
        expired = [(key, entry) for key, entry in list(self._entries.items()) if now >= entry[0]]
        for key, entry in expired:
            self._drop(key, entry)
        return len(expired)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held in memory, expired or not (what a test of the sweep asks)."""
        return key in self._entries

    def _sweep_if_due(self, now: float) -> None:
        if now >= self._next_sweep:
            self.sweep()

    def _drop(self, key: H, entry: tuple[float, V]) -> None:
        # Only the entry that was read: another thread may have put a fresh one under the same key meanwhile (in the
        # instant between these two steps it can still go: then it is loaded again, nothing worse).
        if self._entries.get(key) is entry:
            self._entries.pop(key, None)
