"""The one bounded cache type: caches of values derived from untrusted input must not grow without limit."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict that holds at most ``limit`` entries; when full, the next ``put`` empties it first.

    One eviction rule for every cache of the request path: what it holds is cheap to derive again, so dropping it
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
