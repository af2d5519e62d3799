"""The embedded servers start, are reused, and recover from crashes and stale pid files."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from memoryweb import embedded
from tests.conftest import free_port

pytestmark = pytest.mark.services


@pytest.fixture
def profile(monkeypatch):
    # Servers of our own, even when the suite runs against external ones.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
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


@pytest.mark.parametrize(
    ("profile_name", "server", "variable"),
    [("dev", "postgres", "MEMORYWEB_PG_PORT"), ("test", "valkey", "MEMORYWEB_TEST_VALKEY_PORT")],
)
def test_it_names_the_process_holding_a_taken_port_and_the_variable_to_move_it(
    profile, profile_name, server, variable
):
    scratch = dataclasses.replace(profile, name=profile_name)
    port = scratch.postgres_port if server == "postgres" else scratch.valkey_port
    start = embedded.postgres_up if server == "postgres" else embedded.valkey_up
    with socket.socket() as blocker:  # another program, as far as the start path can tell
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(embedded.EmbeddedServiceError) as refused:
            start(scratch)

    message = str(refused.value)
    assert f"port {port}" in message
    assert f"pid {os.getpid()} ({psutil.Process().name()})" in message
    suggested = int(message.rsplit(f"{variable}=", 1)[1].split()[0].rstrip(")"))
    assert suggested < 32768 and suggested != port
    assert not embedded._port_is_open(port)  # nothing was started in its place


def test_its_default_ports_are_below_the_ephemeral_range():
    # An outgoing connection may take any port of the ephemeral range as its local port,
    # and a server restarting then finds its port taken.
    range_file = Path("/proc/sys/net/ipv4/ip_local_port_range")
    lowest_ephemeral = int(range_file.read_text().split()[0]) if range_file.exists() else 32768
    ports = [port for servers in embedded.DEFAULT_PORTS.values() for port in servers.values()]
    assert ports and all(1024 < port < min(lowest_ephemeral, 32768) for port in ports), ports
    assert len(set(ports)) == len(ports)


def test_it_gives_the_development_server_a_quarter_of_the_memory_for_buffers(profile):
    dev = dataclasses.replace(profile, name="dev")
    assert embedded.memory_settings(dev, 16 * 2**30) == {
        "shared_buffers": "4096MB",
        "effective_cache_size": "12288MB",
    }
    # A small machine still gets PostgreSQL's default buffers.
    assert embedded.memory_settings(dev, 256 * 2**20)["shared_buffers"] == "128MB"
    # Test servers hold little, whatever the machine.
    test = dataclasses.replace(profile, name="test")
    assert embedded.memory_settings(test, 16 * 2**30)["shared_buffers"] == "256MB"


def test_it_takes_a_containers_memory_limit_when_lower_than_the_machines(tmp_path):
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limited, unlimited = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    limited.write_text(f"{machine // 2}\n")
    unlimited.write_text("max\n")
    assert embedded.memory_allowed((unlimited, limited)) == machine // 2
    assert embedded.memory_allowed((unlimited, tmp_path / "missing")) == machine


def test_the_development_server_saves_its_buffered_pages_for_a_restart(profile):
    dev = dataclasses.replace(profile, name="dev")
    embedded.up(dev)
    assert query(dev, "SHOW shared_preload_libraries") == [("pg_prewarm",)]
    expected = embedded.memory_settings(dev, embedded.memory_allowed())["shared_buffers"]
    buffers_mb = "SELECT pg_size_bytes(current_setting('shared_buffers')) / 1048576"
    assert query(dev, buffers_mb) == [(int(expected.removesuffix("MB")),)]
    query(dev, "CREATE TABLE read_often AS SELECT g AS n FROM generate_series(1, 10000) AS g")
    assert query(dev, "SELECT count(*) FROM read_often") == [(10000,)]
    embedded.down(dev)
    # autoprewarm writes the list of buffered pages on shutdown, and reads them at start.
    assert (dev.pgdata / "autoprewarm.blocks").exists()
    embedded.up(dev)
    prewarmed = re.compile(r"autoprewarm successfully prewarmed (\d+) of \d+")
    for _ in range(100):
        loaded = prewarmed.findall(dev.postgres_log.read_text())
        if loaded:
            break
        time.sleep(0.1)
    assert loaded and int(loaded[-1]) > 0
