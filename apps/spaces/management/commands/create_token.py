from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.audit.actors import Actor
from apps.spaces.models import Scope, Space
from apps.spaces.services import InvalidTokenRequest, issue_token


class Command(BaseCommand):
    help = "Issue an API token for an agent. The token is printed once and stored only hashed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--space", required=True, help="slug of the space")
        parser.add_argument("--name", required=True, help="the agent's name, unique in the space")
        parser.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            metavar="SCOPE",
            help=f"one or more of: {', '.join(Scope.values)}",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"no space with slug {options['space']!r}")
        scopes = [s for item in options["scopes"] for s in item.split(",") if s]
        days = options["expires_in_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-in-days must be positive")
        try:
            token, raw = issue_token(
                space,
                Actor.system("create_token"),
                name=options["name"],
                scopes=scopes,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except InvalidTokenRequest as refused:
            raise CommandError(str(refused)) from None
        self.stderr.write(
            f"Token {token.name!r} for space {space.slug!r} with scopes {', '.join(token.scopes)}."
            " Store it now: it cannot be shown again."
        )
        self.stdout.write(raw)
