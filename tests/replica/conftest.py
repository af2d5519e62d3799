"""A real streaming replica of the test database's PostgreSQL, for the tests of
apps/core/replicas.py.

The session starts it once: pg_basebackup -R from the server the suite uses, into
var/test/replica, on a port of its own. Its alias, `replica1`, is in
settings.DATABASES for the rest of the session (so tests may name it in `databases`),
but only the `replica` fixture puts it in settings.REPLICA_DATABASES, the aliases
apps/core/replicas.py chooses among: the rest of the suite never reads from it.
Tests here are transactional, since the replica only ever sees committed rows.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections

from apps.core import replicas
from memoryweb import embedded
from tests.conftest import child_database_url, free_port

ALIAS = "replica1"
REPLAY_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="session", autouse=True)
def replica_server(django_db_setup: Any) -> Iterator[int]:
    """The replica's port, once it answers; stopped and removed at the session's end."""
    directory = embedded.get_profile().root / "replica"
    port = free_port()
    embedded.start_replica(embedded.get_profile(), directory, port, child_database_url())
    # The primary's settings (the test database's name included: physical
    # replication copies the whole cluster) on the replica's port. Django's
    # connections read settings.DATABASES itself.
    primary: dict[str, Any] = dict(connections["default"].settings_dict)
    replica_settings: Any = {
        **primary,
        "HOST": "127.0.0.1",
        "PORT": port,
        # Flushed through the primary after each transactional test, never itself.
        "TEST": {**primary["TEST"], "MIRROR": "default"},
    }
    django_settings.DATABASES[ALIAS] = replica_settings
    try:
        yield port
    finally:
        connections[ALIAS].close()
        del django_settings.DATABASES[ALIAS]
        embedded.stop_replica(directory)
        shutil.rmtree(directory, ignore_errors=True)
        embedded.replica_log(directory).unlink(missing_ok=True)


@pytest.fixture
def replica(replica_server: int, settings: Any) -> Iterator[str]:
    """The replica's alias, chosen among as DATABASE_REPLICA_URLS would make it."""
    settings.REPLICA_DATABASES = [ALIAS]
    # The sticky marks in a cache of this process's own: the shared test Valkey is
    # flushed before every test of every suite that uses it, some running at the same
    # time as this one.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": ALIAS}
    }
    replicas.forget_health()
    try:
        yield ALIAS
    finally:
        resume_replay()
        replicas.forget_health()


def _scalar(alias: str, sql: str, params: list[Any] | None = None) -> Any:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def caught_up(alias: str = ALIAS) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    _wait_for_wal(alias, "pg_last_wal_replay_lsn()")


def received(alias: str = ALIAS) -> None:
    """Wait until the replica has received everything the primary has written so far
    (applied or not)."""
    _wait_for_wal(alias, "pg_last_wal_receive_lsn()")


def _wait_for_wal(alias: str, position: str) -> None:
    written = _scalar("default", "SELECT pg_current_wal_insert_lsn()::text")
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    while not _scalar(alias, f"SELECT {position} >= %s::pg_lsn", [written]):
        if time.monotonic() > deadline:
            raise AssertionError(f"{alias}'s {position} did not reach {written}")
        time.sleep(0.05)


def pause_replay(alias: str = ALIAS) -> None:
    """Stop the replica applying what it receives: a replica lagging behind."""
    caught_up(alias)
    _scalar(alias, "SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + REPLAY_TIMEOUT_SECONDS
    while _scalar(alias, "SELECT pg_get_wal_replay_pause_state()") != "paused":
        if time.monotonic() > deadline:
            raise AssertionError(f"{alias} did not pause its replay")
        time.sleep(0.05)


def resume_replay(alias: str = ALIAS) -> None:
    _scalar(alias, "SELECT pg_wal_replay_resume()")
