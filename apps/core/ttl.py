"""Per-process memory of facts that are cheap to be a little late about: whether a space
has conversation links, which spaces have their own vector index, whether a replica
answers. Each is read on every request and changes rarely, so asking the database
once a minute per process is enough; the answer is never needed for correctness.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A map whose entries expire after `seconds`, holding at most `max_entries`: with
    thousands of tenants, one entry per space searched must not grow without bound.
    When full, expired entries go first, then the oldest."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(
        self, key: K, compute: Callable[[], V], seconds: Callable[[V], float] | None = None
    ) -> V:
        """The remembered value of `key`, or `compute()` remembered for `seconds(value)`
        (default: the cache's `seconds`). Two threads may compute the same key at once;
        both answers are right, the last one stays."""
        now = time.monotonic()
        with self._lock:
            known = self._entries.get(key)
        if known is not None and known[1] > now:
            return known[0]
        value = compute()
        lifetime = seconds(value) if seconds is not None else self.seconds
        with self._lock:
            self._entries.pop(key, None)
            if len(self._entries) >= self.max_entries:
                self._make_room(now)
            self._entries[key] = (value, now + lifetime)
        return value

    def forget(self, key: K | None = None) -> None:
        """Drop `key`, or everything when None: the next read asks again."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _make_room(self, now: float) -> None:
        for key in [key for key, (_, until) in self._entries.items() if until <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
