"""`make run`'s web process, started from the Procfile as honcho starts it: it answers
a burst of API requests and holds no more database connections than its workers and
threads, it serves the dashboard's static files itself, and it restarts its workers
when the code or a template changes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.conf import settings

from apps.spaces.models import ApiToken, Scope, Space
from memoryweb import gunicorn_conf
from tests.conftest import child_database_url, free_port

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
WORKERS, THREADS = 2, 2
BURST = 200
# The name the server's connections carry in pg_stat_activity (libpq reads PGAPPNAME).
APPLICATION_NAME = f"memoryweb-dev-server-test-{os.getpid()}"


def procfile_command(process: str) -> str:
    for line in PROCFILE.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"the Procfile has no {process} process")


@dataclass
class DevServer:
    base: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def dev_server(transactional_db: Any, tmp_path: Path) -> Iterator[DevServer]:
    port = free_port()
    env = {
        **{
            name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"
        },
        "MEMORYWEB_PROFILE": "test",
        "DATABASE_URL": child_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEMORYWEB_CACHE_URL": settings.CACHE_URL,
        "MEMORYWEB_PORT": str(port),
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        # Listing memories embeds nothing: no need to wait for the model.
        "MEMORYWEB_EMBEDDING_WARM_UP": "false",
        "PGAPPNAME": APPLICATION_NAME,
        # Other work on this tree must not restart the workers in the middle of a count.
        "MEMORYWEB_RELOAD": "false",
    }
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        # honcho runs each Procfile line with the shell, in a session of its own.
        process = subprocess.Popen(
            ["/bin/sh", "-c", procfile_command("web")],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_it_answers(base, process, log_path)
        yield DevServer(base, process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def wait_until_it_answers(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{base}/api/v1/health", timeout=5)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"the web process did not start:\n{tail}") from None
            time.sleep(0.3)


def held_connections() -> int:
    with psycopg.connect(child_database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [APPLICATION_NAME],
        ).fetchone()
    assert row is not None
    return int(row[0])


class ConnectionSampler(threading.Thread):
    """The most connections the server held at any sample, while a burst runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.most = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.most = max(self.most, held_connections())


@pytest.mark.slow
def test_it_answers_a_burst_within_its_connection_bound(dev_server: DevServer) -> None:
    space = Space.objects.create(slug="burst", name="Burst")
    _token, raw = ApiToken.issue(space=space, name="burst", scopes=[Scope.MEMORIES_READ])
    headers = {"Authorization": f"Bearer {raw}"}
    url = f"{dev_server.base}/api/v1/memories"

    def get(_: int) -> int:
        return httpx.get(url, headers=headers, timeout=120).status_code

    sampler = ConnectionSampler()
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            burst = list(pool.map(get, range(BURST)))
    finally:
        sampler.done.set()
        sampler.join()
    after_burst = held_connections()
    sequential = [get(n) for n in range(30)]

    assert burst == [200] * BURST
    assert sequential == [200] * 30
    bound = WORKERS * THREADS
    assert 0 < after_burst <= bound
    assert sampler.most <= bound
    assert held_connections() <= bound


@pytest.mark.slow
def test_it_serves_the_dashboards_static_files(dev_server: DevServer) -> None:
    page = httpx.get(f"{dev_server.base}/login/", timeout=30)
    assert page.status_code == 200
    assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text))
    assert any(asset.endswith(".css") for asset in assets), assets
    assert any("htmx" in asset for asset in assets), assets
    # The graph, timeline and map pages load plotly from the plotly package.
    assets.add("/static/plotly/plotly.min.js")
    for asset in sorted(assets):
        response = httpx.get(f"{dev_server.base}{asset}", timeout=30)
        assert response.status_code == 200, asset
        assert response.content, asset


def test_it_notices_changed_code_and_templates_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    view = tmp_path / "apps" / "views.py"
    view.write_text("answer = 1\n")
    old = tmp_path / "old.html"
    old.write_text("<p>old</p>")
    watcher = gunicorn_conf.FileWatcher([tmp_path])
    assert watcher.changed_files() == []

    (tmp_path / "notes.txt").write_text("not watched\n")
    template = tmp_path / "page.html"
    template.write_text("<p>new</p>")
    old.unlink()
    os.utime(view, ns=(0, view.stat().st_mtime_ns + 1_000_000))

    assert watcher.changed_files() == sorted([template, old, view])
    assert watcher.changed_files() == []


def test_make_run_restarts_its_workers_on_changes() -> None:
    command = procfile_command("web")
    assert "MEMORYWEB_RELOAD=${MEMORYWEB_RELOAD:-1}" in command
    assert "--config python:memoryweb.gunicorn_conf" in command
    # gunicorn's own reloader polls every imported module in every worker.
    assert "--reload" not in command
