from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.retrieval.tasks import start_reembed
from apps.spaces.models import Space


class Command(BaseCommand):
    help = (
        "Queue a job that re-embeds memories made by another model than the configured one "
        "(for one space, or all). Progress is recorded on the job."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--space", help="slug of the space")
        target.add_argument("--all", action="store_true", help="every space")

    def handle(self, *args: Any, **options: Any) -> None:
        space = None
        if options["space"]:
            space = Space.objects.filter(slug=options["space"]).first()
            if space is None:
                raise CommandError(f"no space with slug {options['space']!r}")
        with transaction.atomic():
            job = start_reembed(space)
        self.stdout.write(
            f"Queued re-embedding job {job.pk} for {space.slug if space else 'all spaces'} "
            f"(model {job.params['model']}); a Celery worker runs it."
        )
