import os
from typing import Any

import kombu.exceptions
from django.core.management.base import BaseCommand

from apps.consolidation.services import consolidate
from apps.maps.services import start_projection
from apps.memories.demo import load_demo
from apps.retrieval.tasks import embed_all_pending


class Command(BaseCommand):
    help = (
        "Load the demo space (six people, their sessions and memories) unless it exists; "
        "a new one is embedded and consolidated, and its map queued for the worker."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        space, created = load_demo(os.environ.get("MEMORYWEB_ADMIN_USER", "admin"))
        if not created:
            self.stdout.write(f"The demo space {space.slug!r} exists; nothing loaded.")
            return
        self.stdout.write(f"Loaded the demo space {space.slug!r}.")
        # So that the first look at the review queue, the entities and the map finds
        # something: the worker is not running yet, and consolidation needs the vectors.
        embedded = embed_all_pending(space)
        report = consolidate(space)
        proposed = ", ".join(f"{operation} {n}" for operation, n in report.proposed.items())
        self.stdout.write(f"Embedded {embedded} memories; consolidation found: {proposed}.")
        try:
            start_projection(space)
        except kombu.exceptions.OperationalError:
            self.stdout.write("The broker is down: project the map from the Map page later.")
        else:
            self.stdout.write("The map is queued for the worker.")
