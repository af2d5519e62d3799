"""manage.py consolidate --space S [--only merge archive] [--dry-run]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consolidation import services
from apps.spaces.models import Space


class Command(BaseCommand):
    help = "Consolidate a space: propose merges, links and archiving; find entities."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--space", required=True, help="the space's slug")
        parser.add_argument("--only", nargs="+", choices=services.ALL_OPERATIONS)
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be proposed; store nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"no space with slug {options['space']!r}")
        report = services.consolidate(space, only=options["only"], dry_run=options["dry_run"])
        for operation, count in report.proposed.items():
            applied = report.applied.get(operation)
            extra = f", {applied} applied by the space's policy" if applied is not None else ""
            verb = "would propose" if options["dry_run"] else "proposed"
            self.stdout.write(f"{operation}: {verb} {count}{extra}")
