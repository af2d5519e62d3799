"""Run one database-bound call on a helper thread while the caller runs another.

Hybrid search asks PostgreSQL two independent questions (nearest vectors, BM25); on
their own connections the server answers both at once, so a hybrid query costs about
as much as the slower of the two instead of their sum.

Each helper thread keeps its own Django connection (persistent, like a request
thread's). A caller inside a transaction must not use them: another connection would
not see its uncommitted rows, so `alongside` then runs both calls in order.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

First = TypeVar("First")
Second = TypeVar("Second")

HELPER_THREADS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_helper_connections: set[BaseDatabaseWrapper] = set()


def _helpers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(HELPER_THREADS, thread_name_prefix="search-helper")
        return _pool


def _on_helper_connection(call: Callable[[], Second]) -> Second:
    # Drops a connection that broke or outlived CONN_MAX_AGE, as a request would.
    close_old_connections()
    try:
        return call()
    finally:
        own = connections[DEFAULT_DB_ALIAS]
        with _pool_lock:
            if own not in _helper_connections:
                # Lets close_helper_connections() close it from another thread.
                own.inc_thread_sharing()
                _helper_connections.add(own)


def alongside(first: Callable[[], First], second: Callable[[], Second]) -> tuple[First, Second]:
    """(first(), second()), with `second` on a helper connection when that is safe."""
    if not settings.SEARCH_CONCURRENT or connection.in_atomic_block:
        return first(), second()
    future = _helpers().submit(contextvars.copy_context().run, _on_helper_connection, second)
    try:
        first_result = first()
    finally:
        second_result = future.result()
    return first_result, second_result


def close_helper_connections() -> None:
    """Close the helpers' idle connections (before dropping a database, at shutdown)."""
    with _pool_lock:
        helpers = list(_helper_connections)
        _helper_connections.clear()
    for helper in helpers:
        helper.close()
