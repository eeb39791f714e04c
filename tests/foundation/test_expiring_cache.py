"""The cache of secrets: least recently used out first, expired entries gone from memory, not only refused."""

from __future__ import annotations

from datetime import timedelta

from pledge.cache import ExpiringCache
from pledge.clock import FrozenClock


def test_when_full_the_least_recently_used_entry_goes() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(2, 10)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3


def test_an_expired_entry_is_refused_and_dropped_when_read() -> None:
    clock = FrozenClock()
    cache: ExpiringCache[str, str] = ExpiringCache(10, 5, monotonic=clock.timestamp)
    cache.put("k", "secret")
    clock.advance(timedelta(seconds=4.9))
    assert cache.get("k") == "secret"
    clock.advance(timedelta(seconds=0.1))
    assert cache.get("k") is None
    assert "k" not in cache


def test_expired_entries_nobody_reads_leave_at_the_next_sweep() -> None:
    clock = FrozenClock()
    cache: ExpiringCache[str, str] = ExpiringCache(10, 5, monotonic=clock.timestamp)
    cache.put("old", "secret")
    clock.advance(timedelta(seconds=5))
    assert cache.sweep() == 1
    assert len(cache) == 0
    cache.put("kept", "x")
    clock.advance(timedelta(seconds=6))
    cache.put("other", "y")  # the first call after a TTL sweeps on its own
    assert "kept" not in cache and "other" in cache


def test_an_entry_put_with_its_own_time_expires_then_and_leaves_at_the_sweep() -> None:
    clock = FrozenClock()
    cache: ExpiringCache[str, str] = ExpiringCache(10, 5, monotonic=clock.timestamp)
    cache.put("early", "secret", ttl=2)
    cache.put("default", "secret")
    clock.advance(timedelta(seconds=2))
    assert cache.sweep() == 1
    assert "early" not in cache and cache.get("default") == "secret"
