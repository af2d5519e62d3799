from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from apps.retrieval import storage


class Command(BaseCommand):
    help = (
        "Convert memories_memory.embedding, in place, to the storage MEMORYWEB_VECTOR_STORAGE "
        "names (vector or halfvec), and rebuild every HNSW index of the table with the "
        "matching operator class. One transaction; the table is locked while it runs."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument(
            "--check",
            action="store_true",
            help="only say what is stored and what the setting wants; exit 1 if they differ",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        storage.allow_mismatch(using)
        if options["check"]:
            stored = storage.stored_type(connections[using])
            self.stdout.write(f"stored: {stored}; configured: {storage.sql_type()}")
            if stored not in (None, storage.sql_type()):
                raise CommandError(f"run `{storage.COMMAND}` to convert")
            return
        try:
            done = storage.convert(using)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if not done.changed:
            self.stdout.write(
                f"{storage.TABLE}.{storage.COLUMN} is already {done.after}: nothing to do."
            )
            return
        rebuilt = ", ".join(done.indexes) or "none"
        self.stdout.write(
            f"Converted {storage.TABLE}.{storage.COLUMN} from {done.before} to {done.after} "
            f"({done.embedded} embedded memories) in {done.seconds:.1f} s; HNSW indexes "
            f"rebuilt with {storage.cosine_opclass()}: {rebuilt}."
        )
