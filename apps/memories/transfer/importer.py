"""Import: the lines of an export read in order, checked, and written in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, transaction

from apps.audit.actors import Actor
from apps.memories.services import MemoryServiceError
from apps.memories.services.records import embed_after_commit
from apps.memories.services.restore import (
    RestoredLink,
    RestoredRecord,
    restore_records,
    screen_restored,
)
from apps.memories.transfer.ids import IdMap
from apps.memories.transfer.reader import parse_line
from apps.memories.transfer.records import RecordReader
from apps.memories.transfer.report import ImportLineError, ImportReport, line_error
from apps.memories.transfer.schema import FORMAT, FORMAT_VERSION
from apps.spaces.models import Space

# Lines per write.
BATCH_SIZE = 500


def import_lines(
    space: Space, actor: Actor, lines: Iterable[bytes | str], *, atomic: bool = False
) -> ImportReport:
    """Import an export into `space` (normally an empty one); see the package docstring.

    A bad line is reported (line number, code, message, details) and skipped; the
    other lines are imported. With `atomic`, any error rolls the whole import back
    and every count is zero. The header line is checked but never changes the space.
    """
    importer = Importer(space, actor)
    with transaction.atomic():
        for number, line in enumerate(lines, start=1):
            importer.import_line(number, line)
        report = importer.finish()
        if atomic and report.errors:
            transaction.set_rollback(True)
            return ImportReport(errors=report.errors)
        if report.imported["memory"]:
            embed_after_commit(space.pk, report.imported["memory"])
    return report


@contextmanager
def database_refusal_as_line_error() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        cause = exc.__cause__
        constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
        if getattr(cause, "sqlstate", None) == "23505":
            raise ImportLineError(
                "duplicate", "the line repeats a row already stored", {"constraint": constraint}
            ) from None
        raise ImportLineError(
            "conflict", "the database refused the line", {"constraint": constraint}
        ) from None
    except DataError:
        raise ImportLineError("invalid", "a value does not fit its column") from None


@dataclass
class Accepted:
    """One valid line: what it restores, and the id the file gave its row."""

    line: int
    old_id: str | None
    record: RestoredRecord


@dataclass
class Batch:
    """Lines read since the last write, written together in one savepoint."""

    # (line number, the parsed object or why the line could not be parsed)
    entries: list[tuple[int, dict[str, Any] | ImportLineError]] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class Importer:
    """Reads the lines of one import, remembering the new id of every accepted row.

    Lines are checked one by one, then written BATCH_SIZE at a time in one savepoint.
    The checks catch nearly every bad line, so a batch is almost always written
    whole; when the database refuses one, the batch is undone and its lines are
    read and written again one at a time, each in its own savepoint, which gives
    exactly the outcome of a line-by-line import at a line-by-line import's cost.
    """

    def __init__(self, space: Space, actor: Actor) -> None:
        self.space = space
        self.actor = actor
        self.report = ImportReport()
        self.ids = IdMap()
        self.records = RecordReader(space, actor, self.ids)
        self.first_line: int | None = None
        self.batch = Batch()

    def import_line(self, number: int, line: bytes | str) -> None:
        parsed: dict[str, Any] | ImportLineError | None
        try:
            parsed = parse_line(number, line)
        except ImportLineError as exc:
            parsed = exc
        if parsed is None:
            return
        if self.first_line is None:
            self.first_line = number
        self.batch.entries.append((number, parsed))
        self._check(number, parsed, self.batch)
        if len(self.batch.entries) >= BATCH_SIZE:
            self._write(self.batch)
            self.batch = Batch()

    def finish(self) -> ImportReport:
        self._write(self.batch)
        self.batch = Batch()
        self.report.errors.sort(key=lambda error: error["line"])
        return self.report

    def _check(self, number: int, parsed: dict[str, Any] | ImportLineError, batch: Batch) -> None:
        try:
            if isinstance(parsed, ImportLineError):
                raise parsed
            accepted = self._read_record(number, parsed)
        except MemoryServiceError as exc:
            batch.errors.append(line_error(number, exc))
            return
        if accepted is not None:
            batch.accepted.append(accepted)

    def _read_record(self, number: int, record: dict[str, Any]) -> Accepted | None:
        if record["type"] == "space":
            self._check_header(number, record)
            return None
        read = self.records.readers.get(record["type"])
        if read is None:
            raise ImportLineError(
                "invalid_line",
                f"unknown line type {record['type']!r}",
                {"type": f"one of space, {', '.join(self.records.readers)}"},
            )
        restored = read(record)
        screen_restored(self.space, restored)
        # Links are referred to by no other line, so the file gives them no id.
        if isinstance(restored, RestoredLink):
            return Accepted(number, None, restored)
        self.ids.remember(restored.record_type, restored.imported_from, restored.row.pk)
        return Accepted(number, restored.imported_from, restored)

    def _check_header(self, number: int, record: dict[str, Any]) -> None:
        if number != self.first_line:
            raise ImportLineError("invalid_line", "the space header must be the first line")
        found = {key: record.get(key) for key in ("format", "format_version")}
        version = found["format_version"]
        if found["format"] != FORMAT or type(version) is not int or version != FORMAT_VERSION:
            raise ImportLineError(
                "unsupported_format",
                f"expected format {FORMAT!r} version {FORMAT_VERSION}",
                {"found": found, "expected": {"format": FORMAT, "format_version": FORMAT_VERSION}},
            )

    def _write(self, batch: Batch) -> None:
        if not batch.accepted:
            self.report.errors += batch.errors
            return
        try:
            with database_refusal_as_line_error():
                restore_records(
                    self.space, self.actor, [accepted.record for accepted in batch.accepted]
                )
        except ImportLineError as refusal:
            self._forget(batch)
            if len(batch.entries) > 1:
                self._write_one_by_one(batch)
            else:
                self.report.errors += [*batch.errors, line_error(batch.accepted[0].line, refusal)]
            return
        self.report.errors += batch.errors
        for accepted in batch.accepted:
            self.report.imported[accepted.record.record_type] += 1

    def _write_one_by_one(self, batch: Batch) -> None:
        for number, parsed in batch.entries:
            single = Batch(entries=[(number, parsed)])
            self._check(number, parsed, single)
            self._write(single)

    def _forget(self, batch: Batch) -> None:
        for accepted in batch.accepted:
            if accepted.old_id is not None:
                self.ids.forget(accepted.record.record_type, accepted.old_id)
