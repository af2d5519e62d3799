"""The embedded servers start, are reused, and recover from crashes and stale pid files."""

from __future__ import annotations

import os
import shutil
import signal
import time

import psycopg
import pytest

from memoryweb import embedded
from tests.conftest import free_port

pytestmark = pytest.mark.services


@pytest.fixture
def profile():
    root = embedded.VAR_DIR / f"test-embedded-{os.getpid()}"
    profile = embedded.Profile(
        name="scratch", root=root, postgres_port=free_port(), valkey_port=free_port()
    )
    yield profile
    embedded.down(profile)
    shutil.rmtree(root, ignore_errors=True)


def query(profile: embedded.Profile, sql: str) -> list[tuple]:
    with psycopg.connect(profile.database_url(), autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def postmaster_pid(profile: embedded.Profile) -> int:
    return int((profile.pgdata / "postmaster.pid").read_text().splitlines()[0])


def valkey_pid(profile: embedded.Profile) -> int:
    return int((profile.valkey_dir / "valkey.pid").read_text())


def wait_gone(pid: int) -> None:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_up_twice_reuses_the_running_servers_and_keeps_data(profile):
    embedded.up(profile)
    query(profile, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    pids = (postmaster_pid(profile), valkey_pid(profile))

    embedded.up(profile)

    assert (postmaster_pid(profile), valkey_pid(profile)) == pids
    assert query(profile, "SELECT n FROM kept") == [(42,)]
    assert query(
        profile, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
    )


def test_it_recovers_from_crashed_servers_without_losing_data(profile):
    embedded.up(profile)
    query(profile, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    crashed_pg, crashed_valkey = postmaster_pid(profile), valkey_pid(profile)
    os.kill(crashed_pg, signal.SIGKILL)
    os.kill(crashed_valkey, signal.SIGKILL)
    wait_gone(crashed_pg)
    wait_gone(crashed_valkey)

    embedded.up(profile)

    assert postmaster_pid(profile) != crashed_pg
    assert valkey_pid(profile) != crashed_valkey
    assert query(profile, "SELECT n FROM kept") == [(7,)]
    assert embedded._valkey_ping(profile.valkey_port)


def test_it_recovers_from_stale_pid_files(profile):
    embedded.up(profile)
    embedded.down(profile)
    # Pid files left behind by servers that died, naming pids that are long gone.
    (profile.pgdata / "postmaster.pid").write_text("999999\n" + str(profile.pgdata) + "\n")
    (profile.valkey_dir / "valkey.pid").write_text("999998\n")

    embedded.up(profile)

    assert query(profile, "SELECT 1") == [(1,)]
    assert embedded._valkey_ping(profile.valkey_port)


def test_down_stops_both_servers(profile):
    embedded.up(profile)
    embedded.down(profile)
    assert not embedded._port_is_open(profile.postgres_port)
    assert not embedded._port_is_open(profile.valkey_port)


def test_a_port_taken_by_another_program_is_a_clear_error(profile):
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", profile.valkey_port))
        blocker.listen()
        with pytest.raises(embedded.EmbeddedServiceError, match="taken by another program"):
            embedded.valkey_up(profile)


def test_external_servers_are_used_instead_of_starting_embedded_ones(profile, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5432/memoryweb")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://broker.example:6379/0")

    embedded.up(profile)

    assert not profile.pgdata.exists()
    assert not profile.valkey_dir.exists()


def test_only_the_broker_is_started_when_only_the_database_is_external(profile, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5432/memoryweb")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)

    embedded.up(profile)

    assert not profile.pgdata.exists()
    assert embedded._valkey_ping(profile.valkey_port)
