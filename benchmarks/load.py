"""Load test, end to end over HTTP: 20 agents store conversation turns (POST /episodes,
remember=true) and search (hybrid) through the REST API while a curator browses the
dashboard, against gunicorn and a real Celery worker; afterwards every acknowledged
write is checked to be stored and searchable.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--agents 20] [--wait 1.0]

Uses the dev profile's embedded services (started when they are not up, and stopped
again only then) and a fresh space load-<timestamp> with one read+write token per agent
(each agent is its own API client, with its own rate limit) and a viewer account for
the dashboard; the space is purged at the end. gunicorn runs with DEBUG off and each
worker's model loaded before the load starts; the worker runs as in the Procfile.
Locust (benchmarks/locustfile.py) runs headless on loopback. Each agent waits `--wait`
seconds on average (0.5x to 1.5x) between requests, as an agent does while its model
thinks; two writes (1 to 3 turns each) for three searches (--write-share). The run's
logs (acknowledged writes, every request, gunicorn, the worker, locust) are kept in
/tmp/memoryweb-load-<timestamp>/. Exits 1 on any failed request, lost write, or
acknowledged memory that a vector search for its own text does not find.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis
from common import ROOT, machine, percentile, summary
from django.conf import settings
from django.contrib.auth import get_user_model

from apps.audit.actors import Actor
from apps.memories.models import Episode, Memory
from apps.retrieval.embedding import get_backend, ready_message
from apps.retrieval.search import search
from apps.spaces.models import ApiToken, Membership, Role, Scope, Space
from apps.spaces.services import purge_space
from memoryweb import embedded, gunicorn_conf
from memoryweb.celery import app as celery_app

BIN = ROOT / ".venv" / "bin"
ACTOR = Actor.system("benchmark")
SEARCH_P95_TARGET_MS = 100.0

# Loaded by gunicorn with -c: the shipped settings (memoryweb/gunicorn_conf.py: each
# worker loads the embedding model before it takes requests), and a file per worker to
# say it is ready.
GUNICORN_CONFIG = """\
import os
from pathlib import Path

from memoryweb import gunicorn_conf


def post_worker_init(worker):
    gunicorn_conf.post_worker_init(worker)
    Path({ready_dir!r}, f"ready-{{os.getpid()}}").touch()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def services_up() -> bool:
    """Start the dev profile's embedded servers if needed; True when this run started them."""
    profile = embedded.get_profile("dev")
    was_up = [port_open(profile.postgres_port), port_open(profile.valkey_port)]
    if not all(was_up):
        subprocess.run(
            [str(BIN / "python"), "-m", "memoryweb.embedded", "up", "--profile", "dev"],
            cwd=ROOT,
            check=True,
        )
    return not any(was_up)


def create_space(stamp: str, agents: int) -> tuple[Space, list[str], Any, str]:
    space = Space.objects.create(slug=f"load-{stamp}", name=f"Load test {stamp}")
    tokens = [
        ApiToken.issue(
            space=space,
            name=f"agent-{i:02d}",
            scopes=[Scope.MEMORIES_READ, Scope.MEMORIES_WRITE],
        )[1]
        for i in range(agents)
    ]
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(username=f"load-{stamp}", password=password)
    Membership.objects.create(space=space, user=user, role=Role.VIEWER)
    return space, tokens, user, password


def start_gunicorn(
    run_dir: Path,
    port: int,
    workers: int,
    threads: int,
    keep_alive: int,
    env: dict[str, str],
) -> subprocess.Popen[bytes]:
    config = run_dir / "gunicorn_config.py"
    config.write_text(GUNICORN_CONFIG.format(ready_dir=str(run_dir)))
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "memoryweb.wsgi:application",
            f"--config={config}",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--threads={threads}",
            "--worker-class=gthread" if threads > 1 else "--worker-class=sync",
            "--timeout=120",
            # Longer than an agent's pause, so the server never closes a connection
            # just as the agent sends its next request on it.
            f"--keep-alive={keep_alive}",
            "--no-control-socket",  # its default path is shared by every gunicorn
            "--graceful-timeout=20",
            f"--chdir={ROOT}",
            f"--access-logfile={run_dir / 'gunicorn-access.log'}",
            f"--error-logfile={run_dir / 'gunicorn.log'}",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 120
    while len(list(run_dir.glob("ready-*"))) < workers:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {run_dir}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn's workers were not ready within 120 s; see {run_dir}")
        time.sleep(0.2)
    # Answering at all is what counts here (a 503 names what is missing).
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).close()
    return process


def start_worker(
    run_dir: Path, hostname: str, env: dict[str, str], niceness: int = 0, concurrency: int = 2
) -> subprocess.Popen[bytes]:
    """The worker as the Procfile starts it (prefork), with its own name."""
    log = open(run_dir / "worker.log", "wb")  # noqa: SIM115 (the child writes it)
    process = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "memoryweb",
            "worker",
            "--loglevel=info",
            f"--concurrency={concurrency}",
            f"--hostname={hostname}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Background work yields the cores to requests when asked (--worker-nice).
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )
    deadline = time.monotonic() + 120

    def models_loaded() -> int:
        log = (run_dir / "worker.log").read_text(errors="replace")
        return log.count(ready_message(get_backend().name))

    # Up and warm, as a worker that has been running a while: every pool process has
    # loaded the model (memoryweb/celery.py), so no load happens during the run.
    while (
        not celery_app.control.ping(destination=[hostname], timeout=0.5)
        or models_loaded() < concurrency
    ):
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker was not ready within 120 s; see {run_dir}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of a process and its descendants: those alive now, and (through the
    kernel's totals of waited-for children) those that have exited, such as the
    PostgreSQL backends of closed connections."""
    children: dict[int, list[int]] = defaultdict(list)
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # After the command name: state, ppid, ... utime, stime, cutime, cstime.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        stats[int(entry.name)] = fields
        children[int(fields[1])].append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            total += sum(int(ticks) for ticks in stats[pid][11:15])
            stack += children[pid]
    return total / CLOCK_TICKS


def query_embedding_alone(samples: int = 50) -> list[float]:
    """Milliseconds to embed one query, one model thread, nothing else running: how fast
    the machine is at this hour (it drifts by up to a third), to read the run against."""
    import torch

    torch.set_num_threads(1)
    backend = get_backend()
    backend.prepare()
    timings = []
    for number in range(samples):
        started = time.perf_counter()
        backend.embed([f"what did I note about the cello lesson, take {number}?"])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def cpu_by_role(roots: dict[str, int]) -> dict[str, float]:
    return {role: tree_cpu_seconds(pid) for role, pid in roots.items()}


def drain(space: Space, timeout: float) -> tuple[float, int, int]:
    """Wait until the space has no memory without a vector and the broker's queue is
    empty (the worker still records the searches' recalls); returns (seconds, pending,
    queued) at the end."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    started = time.monotonic()
    while True:
        pending = Memory.objects.for_space(space).pending_embedding().count()
        queued = int(broker.llen("celery"))
        if (pending == 0 and queued == 0) or time.monotonic() - started > timeout:
            return time.monotonic() - started, pending, queued
        time.sleep(0.25)


def verify(space: Space, writes: list[dict[str, Any]], sample: int, k: int) -> dict[str, Any]:
    """Every acknowledged episode and memory is stored (by id, memories with the same
    text); a sample of the memories has a vector and is found by a vector search for its
    own text."""
    acknowledged = {m["id"]: m["content"] for w in writes for m in w["memories"]}
    episode_ids = [e for w in writes for e in w["episodes"]]
    stored: dict[str, tuple[str, bool]] = {}
    ids = list(acknowledged)
    for i in range(0, len(ids), 1000):
        rows = (
            Memory.objects.for_space(space)
            .filter(pk__in=ids[i : i + 1000])
            .values_list("pk", "content", "embedding")
        )
        stored.update({str(pk): (content, vector is not None) for pk, content, vector in rows})
    missing = [pk for pk in ids if pk not in stored]
    changed = [pk for pk in ids if pk in stored and stored[pk][0] != acknowledged[pk]]
    episodes_found = sum(
        Episode.objects.for_space(space).filter(pk__in=episode_ids[i : i + 1000]).count()
        for i in range(0, len(episode_ids), 1000)
    )

    present = [pk for pk in ids if pk in stored]
    checked = present if len(present) <= sample else random.Random(7).sample(present, sample)
    not_searchable: list[str] = []
    backend = get_backend()
    started = time.perf_counter()
    for i in range(0, len(checked), 64):
        chunk = checked[i : i + 64]
        vectors = backend.embed([acknowledged[pk] for pk in chunk])
        for pk, vector in zip(chunk, vectors, strict=True):
            if not stored[pk][1]:
                not_searchable.append(pk)
                continue
            result = search(
                space, acknowledged[pk], mode="vector", k=k, record_access=False, vector=vector
            )
            if pk not in {str(hit.memory.pk) for hit in result.hits}:
                not_searchable.append(pk)
    return {
        "memories": len(ids),
        "episodes": len(episode_ids),
        "missing": len(missing) + (len(episode_ids) - episodes_found),
        "missing_memories": missing[:10],
        "missing_episodes": len(episode_ids) - episodes_found,
        "changed": len(changed),
        "checked": len(checked),
        "not_searchable": not_searchable,
        "verify_seconds": time.perf_counter() - started,
    }


def report(requests: list[dict[str, Any]], seconds: float) -> tuple[int, dict[str, list[float]]]:
    timed = [r for r in requests if "ms" in r]
    by_type: dict[str, list[float]] = defaultdict(list)
    by_name: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    for r in timed:
        by_type[r["name"].split(":")[0]].append(r["ms"])
        by_name[r["name"]].append(r["ms"])
        if not r["ok"]:
            errors[r["name"]].append(r["error"])
    if timed:
        first = min(r["end"] - r["ms"] / 1000 for r in timed)
        span = max(r["end"] for r in timed) - first
    else:
        span = seconds
    error_count = sum(len(e) for e in errors.values())
    print(
        f"requests: {len(timed)} in {span:.1f} s = {len(timed) / max(span, 1e-9):.1f} req/s; "
        f"errors: {error_count}"
    )
    for kind in ("write", "search", "page", "login"):
        if by_type.get(kind):
            print(f"  {kind:30} {summary(by_type[kind])}")
    for name in sorted(n for n in by_name if n.startswith("page:")):
        print(f"    {name[6:]:28} {summary(by_name[name])}")
    server = [r for r in requests if r.get("name") == "server: search"]
    if server:
        embed_ms, db_ms = [r["embed_ms"] for r in server], [r["db_ms"] for r in server]
        print(f"  search, server's own timing:   query embedding {summary(embed_ms)}")
        print(f"  {'':30} database        {summary(db_ms)}")
        print(f"  {'':30} hits per search: {sum(r['hits'] for r in server) / len(server):.1f}")
    for name, messages in errors.items():
        print(f"  errors in {name}: {len(messages)}, e.g. {sorted(set(messages))[:3]}")
    return error_count, by_type


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60, help="length of the load (locust -t)")
    parser.add_argument("--agents", type=int, default=20, help="agents (plus one curator)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument(
        "--wait", type=float, default=1.0, help="mean seconds an agent waits between requests"
    )
    parser.add_argument(
        "--write-share", type=float, default=0.4, help="share of agent requests that write"
    )
    # The defaults are what docker/compose.yaml (web) and the Procfile (worker) start.
    parser.add_argument(
        "--gunicorn-workers",
        type=int,
        default=gunicorn_conf.workers,
        help="default: as memoryweb/gunicorn_conf.py, one per core",
    )
    parser.add_argument("--gunicorn-threads", type=int, default=1)
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--worker-nice", type=int, default=19, help="run the Celery worker at this niceness"
    )
    parser.add_argument(
        "--verify", type=int, default=1000, help="memories checked by vector search (at least 200)"
    )
    parser.add_argument("--k", type=int, default=10, help="top k of the searchability check")
    args = parser.parse_args()
    if settings.PROFILE.name != "dev":
        sys.exit(f"the load test uses the dev profile only, not {settings.PROFILE.name!r}")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(f"/tmp/memoryweb-load-{stamp}")
    run_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "MEMORYWEB_PROFILE": "dev",
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
        # As the Procfile and the compose file set it, unless the caller chose otherwise.
        "MEMORYWEB_EMBEDDING_THREADS": os.environ.get("MEMORYWEB_EMBEDDING_THREADS", "1"),
    }
    started_services = services_up()
    idle_embedding = query_embedding_alone()
    space, tokens, user, password = create_space(stamp, args.agents)
    gunicorn = worker = locust = None
    exit_code = 1
    try:
        port = free_port()
        worker = start_worker(
            run_dir, f"load-{stamp}@localhost", env, args.worker_nice, args.worker_concurrency
        )
        keep_alive = max(30, round(3 * args.wait))
        gunicorn = start_gunicorn(
            run_dir,
            port,
            args.gunicorn_workers,
            args.gunicorn_threads,
            keep_alive,
            env,
        )
        config = run_dir / "config.json"
        config.write_text(
            json.dumps(
                {
                    "space": space.slug,
                    "tokens": tokens,
                    "username": user.username,
                    "password": password,
                    "wait": args.wait,
                    "write_share": args.write_share,
                    "writes": str(run_dir / "writes.jsonl"),
                    "requests": str(run_dir / "requests.jsonl"),
                }
            )
        )
        print(f"machine: {machine()}")
        print(f"machine speed now: one query embedding alone, idle: {summary(idle_embedding)}")
        print(
            f"load: {args.agents} agents + 1 curator for {args.seconds} s on 127.0.0.1:{port}, "
            f"gunicorn {args.gunicorn_workers} workers x {args.gunicorn_threads} threads, "
            f"Celery worker concurrency {args.worker_concurrency} (nice {args.worker_nice}), "
            f"{env['MEMORYWEB_EMBEDDING_THREADS']} model thread(s) per process, "
            f"agents wait {args.wait:.2f} s on average; "
            f"logs in {run_dir}",
            flush=True,
        )
        roots = {"gunicorn": gunicorn.pid, "Celery worker": worker.pid}
        postmaster = embedded.running_postmaster(embedded.get_profile("dev"))
        if postmaster is not None:
            roots["PostgreSQL"] = postmaster
        cpu_before, load_started = cpu_by_role(roots), time.monotonic()
        with open(run_dir / "locust.log", "wb") as log:
            locust = subprocess.Popen(
                [
                    str(BIN / "locust"),
                    f"--locustfile={ROOT / 'benchmarks' / 'locustfile.py'}",
                    "--headless",
                    f"--users={args.agents + 1}",
                    f"--spawn-rate={args.spawn_rate}",
                    f"--run-time={args.seconds}s",
                    f"--host=http://127.0.0.1:{port}",
                    "--stop-timeout=15",
                    f"--csv={run_dir / 'locust'}",
                    "--only-summary",
                ],
                cwd=ROOT,
                env={**env, "MEMORYWEB_LOAD_CONFIG": str(config)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            locust.wait(timeout=args.seconds + 120)
        cpu_after, load_seconds = cpu_by_role(roots), time.monotonic() - load_started
        stop(gunicorn)

        requests = read_lines(run_dir / "requests.jsonl")
        writes = read_lines(run_dir / "writes.jsonl")
        errors, by_type = report(requests, args.seconds)
        busy = {role: (cpu_after[role] - cpu_before[role]) / load_seconds for role in roots}
        print(
            f"CPU during the load ({load_seconds:.0f} s), in cores of {os.cpu_count()}: "
            + ", ".join(f"{role} {share:.2f}" for role, share in busy.items())
            + f"; together {sum(busy.values()):.2f}"
        )
        if locust.returncode not in (0, 1):  # 1: some requests failed, counted above
            print(f"locust exited with {locust.returncode}; see {run_dir / 'locust.log'}")
            errors += 1

        drained, pending, queued = drain(space, args.drain_timeout)
        print(
            f"embedding queue: drained in {drained:.1f} s after the load "
            f"(memories without a vector: {pending}, tasks queued: {queued})"
        )
        checks = verify(space, writes, max(200, args.verify), args.k)
        lost = checks["missing"] + checks["changed"]
        not_searchable = len(checks["not_searchable"])
        print(
            f"acknowledged writes: {len(writes)} requests, {checks['memories']} memories, "
            f"{checks['episodes']} episodes; missing: {checks['missing']} "
            f"(episodes {checks['missing_episodes']}), content changed: {checks['changed']}"
        )
        print(
            f"searchable (has a vector, and a vector search for its own text has it in the "
            f"top {args.k}): {checks['checked'] - not_searchable} of {checks['checked']} "
            f"checked; not searchable: {not_searchable} "
            f"({checks['verify_seconds']:.1f} s)"
        )
        if checks["missing_memories"]:
            print(f"  missing, e.g. {checks['missing_memories']}")
        if checks["not_searchable"]:
            print(f"  not searchable, e.g. {checks['not_searchable'][:10]}")
        search_p95 = percentile(by_type["search"], 0.95) if by_type.get("search") else None
        print(
            "targets: "
            f"errors {errors} (0), lost writes {lost} (0), search p95 "
            + (f"{search_p95:.1f} ms" if search_p95 is not None else "n/a")
            + f" (< {SEARCH_P95_TARGET_MS:.0f} ms)"
        )
        exit_code = 1 if errors or lost or not_searchable else 0
    finally:
        stop(locust)
        stop(gunicorn)
        stop(worker, timeout=60)
        (run_dir / "config.json").unlink(missing_ok=True)  # holds the tokens
        purge_space(space, ACTOR, reason="load test finished")
        user.delete()
        if started_services:
            subprocess.run(
                [str(BIN / "python"), "-m", "memoryweb.embedded", "down", "--profile", "dev"],
                cwd=ROOT,
                check=False,
            )
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
