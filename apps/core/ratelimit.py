"""Rate-limit windows counted in the shared cache (Valkey/Redis in every real setup), so
every web process counts together.

Counting and deciding are one step: `count_attempt` returns the count its own increment
produced, and the caller decides on that number. Parallel requests each get a different
one, so no more than the limit pass; reading the count first and adding to it later let
every request that arrived before the first was counted through."""

from __future__ import annotations

from django.core.cache import cache


def count_attempt(key: str, period: int) -> int:
    """Adds one to the window `key` names and returns its new count. The window opens
    with its first attempt and closes `period` seconds later."""
    cache.add(key, 0, timeout=period)
    try:
        count = int(cache.incr(key))
    except ValueError:  # the window closed between the two calls: this attempt opens the next
        cache.add(key, 0, timeout=period)
        count = int(cache.incr(key))
    if count == 1:
        # The cache's incr checks that the key exists, then increments: a window that
        # closed in between comes back as a key that never expires. Give it its period.
        cache.touch(key, period)
    return count


def withdraw_attempt(key: str) -> None:
    """Takes back one attempt counted by `count_attempt`: one that turned out not to
    count against the limit."""
    try:
        count = int(cache.decr(key))
    except ValueError:  # the window has closed: nothing left to take back
        return
    if count < 0:
        # The window had closed and decr made a key that never expires: remove it.
        cache.delete(key)
