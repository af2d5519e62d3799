"""The visual views at scale: projection time, the map page (payload, server time, time
to first paint in Chromium), the timeline page and the graph endpoint.

    .venv/bin/python benchmarks/views.py [--sizes 10000 100000] [--requests 50]

Uses the search benchmark's spaces (bench-search-<size>; run benchmarks/search_latency.py
first). Adds random related_to links to a space that has none (about one per memory),
so the graph has hubs and long paths. Time to first paint needs /usr/bin/chromium
(`make browser`); it serves the page from a runserver subprocess on a free port.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from contextlib import closing

from common import ROOT, machine, summary
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.test import Client

from apps.audit.actors import Actor
from apps.maps import services as maps
from apps.memories import services
from apps.memories.models import Link, Memory
from apps.spaces.models import Membership, Role, Space

ACTOR = Actor.system("benchmark")
CHROMIUM = "/usr/bin/chromium"


def timed(client: Client, url: str, runs: int) -> tuple[list[float], int, float]:
    """Each run's milliseconds, the page's bytes, and the first (warm-up) request's
    milliseconds: for the map, the one that draws it."""
    began = time.perf_counter()
    client.get(url)
    first = (time.perf_counter() - began) * 1000
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)
    return times, size, first


def ensure_links(space: Space) -> int:
    if Link.objects.for_space(space).exists():
        return Link.objects.for_space(space).count()
    ids = list(Memory.objects.for_space(space).values_list("pk", flat=True))
    rng = random.Random(7)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        edges = [(pk, rng.choice(ids), "related_to") for pk in chunk]
        services.create_links(space, ACTOR, [e for e in edges if e[0] != e[1]])
    return Link.objects.for_space(space).count()


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_paint(space: Space, user: object) -> tuple[float, float] | None:
    """Milliseconds from the start of the navigation to the drawn map (plotly's
    promise resolved: the points are on the canvas), in Chromium: the median of three
    views of the drawn map, and of three views just after a change to the space (the
    server draws the map anew: its cache is emptied before each)."""
    if not os.path.exists(CHROMIUM):
        return None
    from playwright.sync_api import sync_playwright

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)  # type: ignore[attr-defined]
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session["_auth_user_hash"] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    session.create()
    port = free_port()
    env = {**os.environ, "DEBUG": "true"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with closing(socket.socket()) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            context = browser.new_context()
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": session.session_key or "",
                        "url": f"http://127.0.0.1:{port}",
                    }
                ]
            )
            page = context.new_page()
            paints: dict[bool, list[float]] = {False: [], True: []}
            for changed in (False, False, False, True, True, True):
                # From the space's overview, as a person comes to the map (leaving a
                # map of 100k points would time that page's teardown as well).
                page.goto(f"http://127.0.0.1:{port}/s/{space.slug}/")
                if changed:
                    cache.clear()
                page.goto(f"http://127.0.0.1:{port}/s/{space.slug}/map/")
                page.wait_for_function(
                    "performance.getEntriesByName('chart-drawn').length", timeout=120_000
                )
                # The page's clock starts as the navigation does.
                paints[changed].append(
                    page.evaluate("performance.getEntriesByName('chart-drawn')[0].startTime")
                )
            browser.close()
        return sorted(paints[False])[1], sorted(paints[True])[1]
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--reuse-projection", action="store_true", help="time the pages over the last map"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    for size in args.sizes:
        space = Space.objects.get(slug=f"bench-search-{size}")
        Membership.objects.get_or_create(space=space, user=user, defaults={"role": Role.EDITOR})
        reused = maps.latest(space) if args.reuse_projection else None
        if reused is None:
            # As a worker process does when it starts (settings.PROJECTION_WARM_UP).
            began = time.perf_counter()
            maps.warm_up()
            print(f"{size:>7} UMAP compiled in {time.perf_counter() - began:.1f} s", flush=True)
        began, cpu_began = time.perf_counter(), time.process_time()
        projection = reused or maps.project(maps.start_projection(space))
        assert projection is not None
        if reused is None:
            print(
                f"{size:>7} projection: {time.perf_counter() - began:.1f} s"
                f" ({time.process_time() - cpu_began:.1f} s of CPU) for"
                f" {projection.points} points, {projection.clusters} clusters"
                f" ({projection.params.get('method')}, fitted on"
                f" {projection.params.get('fit_sample', projection.points)})",
                flush=True,
            )
        base = f"/s/{space.slug}/"
        # Drawn maps are cached per state of the space: the first request draws it.
        cache.clear()
        times, payload, drawing = timed(client, f"{base}map/", max(5, args.requests // 5))
        print(
            f"{size:>7} map page: {payload / 1e6:.2f} MB   first request (drawing the map)"
            f" {drawing:.0f} ms, then {summary(times)}",
            flush=True,
        )
        paints = first_paint(space, user)
        if paints is not None:
            print(
                f"{size:>7} map time to first paint (Chromium, median of 3): {paints[0]:.0f} ms;"
                f" just after a change (drawn anew): {paints[1]:.0f} ms"
            )
        times, _, _ = timed(client, f"{base}timeline/", args.requests)
        print(f"{size:>7} timeline page (whole range)   {summary(times)}", flush=True)
        links = ensure_links(space)
        ids = list(Memory.objects.for_space(space).values_list("pk", flat=True)[:500])
        rng = random.Random(3)
        graph_times = []
        for _ in range(args.requests):
            url = f"/api/v1/graph?center=memory:{rng.choice(ids)}&hops=2&space={space.slug}"
            began = time.perf_counter()
            response = client.get(url)
            graph_times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.content[:200]
        print(f"{size:>7} graph API, 2 hops ({links} links)   {summary(graph_times)}", flush=True)


if __name__ == "__main__":
    main()
