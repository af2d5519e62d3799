import os
from typing import Any

from django.core.management.base import BaseCommand

from apps.memories.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo space (two people, their sessions and memories) unless it exists."

    def handle(self, *args: Any, **options: Any) -> None:
        space, created = load_demo(os.environ.get("MEMORYWEB_ADMIN_USER", "admin"))
        if created:
            self.stdout.write(f"Loaded the demo space {space.slug!r}.")
        else:
            self.stdout.write(f"The demo space {space.slug!r} exists; nothing loaded.")
