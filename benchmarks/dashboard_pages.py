"""Dashboard page times at 100k memories in one space: the browser (newest first, a
filter, a deep page, a text search) and the memory detail page.

    .venv/bin/python benchmarks/dashboard_pages.py [--size 100000] [--requests 200]

Uses the search benchmark's space (bench-search-<size>; run benchmarks/search_latency.py
first to build it) and the full Django stack in process (middleware, sessions, auth,
templates), so the figure is server time without the network. A viewer account named
`bench-viewer` is added to that space.
"""

from __future__ import annotations

import argparse
import random
import time

from common import machine, summary
from django.contrib.auth import get_user_model
from django.test import Client

from apps.memories.models import Memory
from apps.spaces.models import Membership, Role, Space


def timed(client: Client, url: str, runs: int) -> list[float]:
    client.get(url)  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    space = Space.objects.get(slug=f"bench-search-{args.size}")
    user, _ = get_user_model().objects.get_or_create(username="bench-viewer")
    Membership.objects.get_or_create(space=space, user=user, defaults={"role": Role.VIEWER})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    base = f"/s/{space.slug}/"
    memories = Memory.objects.for_space(space).count()
    print(f"machine: {machine()}; {memories} memories in {space.slug}")

    listing = client.get(base).content.decode()
    deep = listing.split('hx-get="?')[1].split('"')[0].replace("&amp;", "&")
    for label, url in (
        ("browser, newest first", base),
        ("browser, next page (cursor)", f"{base}?{deep}"),
        ("browser, 1% filter (subject)", f"{base}?subject=rare"),
        ("browser, text search", f"{base}?q=topic7+w12&mode=text"),
    ):
        print(f"{label:32} {summary(timed(client, url, args.requests))}")

    ids = list(Memory.objects.for_space(space).values_list("pk", flat=True)[:5000])
    sample = random.Random(7).sample(ids, min(args.requests, len(ids)))
    detail = []
    for pk in sample:
        detail += timed(client, f"{base}memories/{pk}/", 1)
    print(f"{'memory detail (random)':32} {summary(detail)}")


if __name__ == "__main__":
    main()
