"""Export and import of a whole space as JSON Lines.

An export is a stream of JSON objects, one per line: a header naming the format,
then the space's episodes, its memories (each with its full version history and
its source episodes), its links and its entities (each with its mentions). Every
reference points to a row on an earlier line, so an import reads the file once and
translates ids through the rows it has already written.

An import gives every row a new id (the originals may still live in this
database), keeps timestamps, version history, access counts and strength, and
writes one audit event per imported row. Embeddings are never exported: they are
derived data, recomputed by the embedding job once the import has committed.
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.db import DataError, IntegrityError, models, transaction
from django.utils import timezone

from apps.audit.actors import Actor, ActorType
from apps.audit.services import record_events
from apps.memories.models import (
    Entity,
    Episode,
    Link,
    LinkType,
    Memory,
    MemoryVersion,
    Mention,
    Status,
    content_hash,
)
from apps.memories.services import (
    EDITABLE_FIELDS,
    ContentTooLarge,
    InvalidMemory,
    MemoryServiceError,
)
from apps.memories.services.records import embed_after_commit, jsonable
from apps.memories.services.rules import check_validity, validate_fields
from apps.spaces.models import Space
from apps.spaces.scoping import SpaceScopedManager

FORMAT = "memoryweb-export"
FORMAT_VERSION = 1

# Rows per query when exporting; lines per write and audit events per statement
# when importing.
CHUNK_SIZE = 500

RECORD_TYPES = ("episode", "memory", "link", "entity")

_EPISODE_KEYS = Episode.PUBLIC_FIELDS
_MEMORY_STATE_KEYS = Memory.STATE_FIELDS
_MEMORY_KEYS = ("id", *Memory.VERSIONED_FIELDS, *_MEMORY_STATE_KEYS)
_VERSION_KEYS = (
    "version",
    "action",
    "reason",
    "actor_type",
    "actor_label",
    "created_at",
    *Memory.VERSIONED_FIELDS,
)
_LINK_KEYS = ("source", "target", "link_type", "weight", "metadata", "created_by", "created_at")
_ENTITY_KEYS = ("id", "name", "kind", "aliases", "metadata", "created_at")
_MENTION_KEYS = ("memory", "start", "end", "created_at")
_DATE_FIELDS = ("occurred_at", "valid_from", "valid_to")

# PositiveIntegerField is a Postgres integer.
_MAX_INTEGER = 2**31 - 1

T = TypeVar("T")


# ===================================================================== export


def export_space(space: Space) -> Iterator[dict[str, Any]]:
    """Yield the space as JSON-safe dicts, one per JSONL line (see the module docstring).

    Each group is ordered by (created_at, id) and read in chunks, so a large space
    streams in bounded memory. Rows of other spaces are never read.
    """
    yield _header(space)
    yield from _export_episodes(space)
    yield from _export_memories(space)
    yield from _export_links(space)
    yield from _export_entities(space)


def _header(space: Space) -> dict[str, Any]:
    return {
        "type": "space",
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "slug": space.slug,
        "name": space.name,
        "description": space.description,
        "settings": space.settings,
        "exported_at": timezone.now().isoformat(),
    }


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {key: jsonable(value) for key, value in row.items()}


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _export_episodes(space: Space) -> Iterator[dict[str, Any]]:
    rows = (
        Episode.objects.for_space(space)
        .order_by("created_at", "id")
        .values(*_EPISODE_KEYS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        yield {"type": "episode", **_json_safe(row)}


def _export_memories(space: Space) -> Iterator[dict[str, Any]]:
    rows = (
        Memory.objects.for_space(space)
        .order_by("created_at", "id")
        .values(*_MEMORY_KEYS)  # never the embedding: derived, large, model-specific
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for chunk in _chunks(rows, CHUNK_SIZE):
        ids = [row["id"] for row in chunk]
        versions = _versions_by_memory(space, ids)
        sources = _source_episodes_by_memory(ids)
        for row in chunk:
            yield {
                "type": "memory",
                **_json_safe(row),
                "source_episodes": sources.get(row["id"], []),
                "versions": versions.get(row["id"], []),
            }


def _versions_by_memory(space: Space, memory_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    rows = (
        MemoryVersion.objects.for_space(space)
        .filter(memory_id__in=memory_ids)
        .order_by("memory_id", "version")
        .values("memory_id", *_VERSION_KEYS)
    )
    for row in rows:
        grouped[row.pop("memory_id")].append(_json_safe(row))
    return grouped


def _source_episodes_by_memory(memory_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    # The through table has no space column; the memory ids already belong to the space.
    grouped: dict[uuid.UUID, list[str]] = defaultdict(list)
    pairs = (
        Memory.source_episodes.through.objects.filter(memory_id__in=memory_ids)
        .order_by("id")  # the order they were attached in, which an import preserves
        .values_list("memory_id", "episode_id")
    )
    for memory_id, episode_id in pairs:
        grouped[memory_id].append(str(episode_id))
    return grouped


def _export_links(space: Space) -> Iterator[dict[str, Any]]:
    rows = (
        Link.objects.for_space(space)
        .order_by("created_at", "id")
        .values("source_id", "target_id", "type", "weight", "metadata", "created_by", "created_at")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for row in rows:
        yield {
            "type": "link",
            "source": str(row["source_id"]),
            "target": str(row["target_id"]),
            "link_type": row["type"],
            **_json_safe(
                {key: row[key] for key in ("weight", "metadata", "created_by", "created_at")}
            ),
        }


def _export_entities(space: Space) -> Iterator[dict[str, Any]]:
    rows = (
        Entity.objects.for_space(space)
        .order_by("created_at", "id")
        .values(*_ENTITY_KEYS)
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for chunk in _chunks(rows, CHUNK_SIZE):
        mentions = _mentions_by_entity(space, [row["id"] for row in chunk])
        for row in chunk:
            yield {"type": "entity", **_json_safe(row), "mentions": mentions.get(row["id"], [])}


def _mentions_by_entity(space: Space, entity_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    rows = (
        Mention.objects.for_space(space)
        .filter(entity_id__in=entity_ids)
        .order_by("created_at", "id")
        .values("entity_id", "memory_id", "start", "end", "created_at")
    )
    for row in rows:
        mention = {
            "memory": row["memory_id"],
            "start": row["start"],
            "end": row["end"],
            "created_at": row["created_at"],
        }
        grouped[row["entity_id"]].append(_json_safe(mention))
    return grouped


# ===================================================================== import


@dataclass
class ImportReport:
    """Rows imported per line type, and one error per refused line, in line order."""

    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECORD_TYPES, 0))
    errors: list[dict[str, Any]] = field(default_factory=list)


class ImportLineError(MemoryServiceError):
    """One line that cannot be imported; `code` names the kind of problem."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code


def import_lines(
    space: Space, actor: Actor, lines: Iterable[bytes | str], *, atomic: bool = False
) -> ImportReport:
    """Import an export into `space` (normally an empty one); see the module docstring.

    A bad line is reported (line number, code, message, details) and skipped; the
    other lines are imported. With `atomic`, any error rolls the whole import back
    and every count is zero. The header line is checked but never changes the space.
    """
    importer = _Importer(space, actor)
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


class _AscendingIds:
    """Fresh UUIDs, each greater than the one before.

    The export orders rows by (created_at, id), and rows created in one batch share
    their created_at; ids ascending in file order keep such rows in the same order
    when the imported space is exported again. The layout is UUIDv7's (time, then
    random bits), so two imports' ids collide no more than random UUIDs do.
    """

    def __init__(self) -> None:
        self._millis = int(time.time() * 1000) & ((1 << 48) - 1)
        # 74 random bits in UUIDv7; the top one starts clear, leaving room to count up.
        self._counter = secrets.randbits(73)

    def __call__(self) -> uuid.UUID:
        self._counter += 1
        rand_a, rand_b = self._counter >> 62, self._counter & ((1 << 62) - 1)
        return uuid.UUID(
            int=(self._millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _encodable(value: Any) -> bool:
    """False if JSON escapes made half a surrogate pair, which no text column can hold."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse_line(number: int, line: bytes | str) -> dict[str, Any] | None:
    """The line's JSON object, or None for a blank line."""
    try:
        text = line.decode() if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise ImportLineError("malformed_json", "the line is not UTF-8 text") from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    try:
        # NaN and Infinity are Python's extensions to JSON; no column can hold them.
        record = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ImportLineError("malformed_json", f"the line is not valid JSON: {exc}") from None
    if "\\ud" in text.casefold() and not _encodable(record):
        raise ImportLineError("malformed_json", "the line holds text that is not valid Unicode")
    if not isinstance(record, dict):
        raise ImportLineError("invalid_line", "each line must be a JSON object")
    if not isinstance(record.get("type"), str):
        raise ImportLineError("invalid_line", 'the line has no "type"', {"type": "required"})
    return record


_REQUIRED: Any = object()
# What a getter returns for a bad date-time; the line fails before it is stored.
_PLACEHOLDER_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class _Reader:
    """Typed access to the fields of one JSON object, collecting every problem.

    Readers of nested objects share their parent's errors under a path prefix, so
    one error reports every bad field of a line. A getter returns a placeholder
    for a bad field: call `raise_errors()` before using the values.
    """

    def __init__(
        self,
        record: dict[str, Any],
        allowed: Iterable[str],
        *,
        prefix: str = "",
        errors: dict[str, str] | None = None,
    ) -> None:
        self.record = record
        self.prefix = prefix
        self.errors: dict[str, str] = {} if errors is None else errors
        for name in record.keys() - {"type", *allowed}:
            self.fail(name, "unknown field")

    def child(self, record: Any, allowed: Iterable[str], path: str) -> _Reader | None:
        if not isinstance(record, dict):
            self.fail(path, "must be an object")
            return None
        return _Reader(record, allowed, prefix=f"{self.prefix}{path}.", errors=self.errors)

    def fail(self, name: str, problem: str) -> None:
        self.errors.setdefault(f"{self.prefix}{name}", problem)

    def raise_errors(self) -> None:
        if self.errors:
            raise InvalidMemory("invalid fields", details=dict(sorted(self.errors.items())))

    def has(self, name: str) -> bool:
        return name in self.record

    def _value(self, name: str, default: Any) -> Any:
        if name in self.record:
            return self.record[name]
        if default is _REQUIRED:
            self.fail(name, "required")
        return default

    def identifier(self, name: str) -> str:
        value = self._value(name, _REQUIRED)
        if not isinstance(value, str) or not value:
            if value is not _REQUIRED:
                self.fail(name, "must be a non-empty string")
            return ""
        return value

    def text(
        self, name: str, default: Any, *, max_length: int | None, required: bool = False
    ) -> str:
        value = self._value(name, default)
        if value is _REQUIRED:
            return ""
        if not isinstance(value, str):
            self.fail(name, "must be a string")
        elif required and not value.strip():
            self.fail(name, "must be non-empty text")
        elif max_length is not None and len(value) > max_length:
            self.fail(name, f"must be at most {max_length} characters")
        else:
            return value
        return ""

    def model_text(self, model: type[models.Model], name: str, default: Any) -> str:
        column = model._meta.get_field(name)
        max_length = column.max_length if isinstance(column, models.CharField) else None
        return self.text(name, default, max_length=max_length, required=default is _REQUIRED)

    def choice(self, name: str, choices: list[str], default: Any) -> str:
        value = self._value(name, default)
        if value is not _REQUIRED and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}")
            return ""
        return str(value) if value is not _REQUIRED else ""

    def integer(self, name: str, default: Any, *, minimum: int) -> int:
        value = self._value(name, default)
        if value is _REQUIRED:
            return minimum
        checked = self._checked_integer(name, value, minimum)
        return minimum if checked is None else checked

    def optional_integer(self, name: str, default: Any, *, minimum: int) -> int | None:
        value = self._value(name, default)
        return None if value is None else self._checked_integer(name, value, minimum)

    def _checked_integer(self, name: str, value: Any, minimum: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be an integer")
        elif not minimum <= value <= _MAX_INTEGER:
            self.fail(name, f"must be from {minimum} to {_MAX_INTEGER}")
        else:
            return value
        return None

    def number(
        self, name: str, default: float, *, minimum: float, exclusive: bool = False
    ) -> float:
        value = self._value(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.fail(name, "must be a number")
        elif value < minimum or (exclusive and value == minimum):
            self.fail(name, f"must be {'greater than' if exclusive else 'at least'} {minimum}")
        else:
            return float(value)
        return default

    def when(self, name: str, default: Any) -> datetime:
        """A date-time that cannot be null."""
        moment = self.optional_when(name, default)
        if moment is None:
            if self.has(name) and self.record[name] is None:
                self.fail(name, "must not be null")
            return _PLACEHOLDER_TIME
        return moment

    def optional_when(self, name: str, default: datetime | None) -> datetime | None:
        value = self._value(name, default)
        if value is None or value is _REQUIRED or isinstance(value, datetime):
            return None if value is _REQUIRED else value
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or timezone.is_naive(parsed):
            self.fail(name, "must be an ISO 8601 date-time with a time zone")
            return None
        return parsed

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._value(name, {})
        if not isinstance(value, dict):
            self.fail(name, "must be an object")
            return {}
        return value

    def strings(self, name: str, *, max_length: int) -> list[str]:
        value = self._value(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(name, "must be a list of strings")
            return []
        if any(len(item) > max_length for item in value):
            self.fail(name, f"items must be at most {max_length} characters")
        return value

    def objects(self, name: str) -> list[Any]:
        value = self._value(name, [])
        if not isinstance(value, list):
            self.fail(name, "must be a list")
            return []
        return value


def _snapshot(reader: _Reader) -> dict[str, Any]:
    """The versioned fields of a memory or of one of its versions, checked by the
    domain layer's own rules; fields left out take the model's defaults."""
    raw: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        if name in _DATE_FIELDS:
            raw[name] = reader.optional_when(name, None)
        elif reader.has(name):
            raw[name] = reader.record[name]
    if not reader.has("content"):
        reader.fail("content", "required")
    try:
        fields = validate_fields(raw)
    except ContentTooLarge as exc:
        where = {"in": reader.prefix.rstrip(".")} if reader.prefix else {}
        raise ContentTooLarge(exc.message, details={**exc.details, **where}) from None
    except InvalidMemory as exc:
        # The tag rules name the problem in the message and the bad tag in the details.
        specific = exc.message != "invalid memory fields"
        for name, problem in exc.details.items():
            reader.fail(name, exc.message if specific else str(problem))
        fields = raw
    status = reader.choice("status", Status.values, Status.ACTIVE)
    defaults = {name: _model_default(Memory, name) for name in Memory.VERSIONED_FIELDS}
    return {**defaults, **fields, "status": status}


def _model_default(model: type[models.Model], name: str) -> Any:
    column = model._meta.get_field(name)
    return column.get_default() if isinstance(column, models.Field) else None


@contextmanager
def _database_refusal_as_line_error() -> Iterator[None]:
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


# Rows are inserted table by table in this order, parents first.
_INSERT_ORDER: tuple[type[models.Model], ...] = (
    Episode,
    Memory,
    Memory.source_episodes.through,
    MemoryVersion,
    Link,
    Entity,
    Mention,
)


def _insert(space: Space, rows: list[models.Model]) -> None:
    by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
    for row in rows:
        by_model[type(row)].append(row)
    for model in _INSERT_ORDER:
        if by_model[model]:
            manager = model._default_manager
            table = manager.for_space(space) if isinstance(manager, SpaceScopedManager) else manager
            table.bulk_create(by_model[model], batch_size=1000)


@dataclass
class _Accepted:
    """One valid line: its rows (the line's own row first) and its audit summary."""

    record_type: str
    old_id: str | None
    rows: list[models.Model]
    summary: dict[str, Any]
    line: int = 0


@dataclass
class _Batch:
    """Lines read since the last write, written together in one savepoint."""

    # (line number, the parsed object or why the line could not be parsed)
    entries: list[tuple[int, dict[str, Any] | ImportLineError]] = field(default_factory=list)
    accepted: list[_Accepted] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _error(line: int, exc: MemoryServiceError) -> dict[str, Any]:
    return {"line": line, "code": exc.code, "message": exc.message, "details": exc.details}


class _Importer:
    """Reads the lines of one import, remembering the new id of every accepted row.

    Lines are checked one by one, then written CHUNK_SIZE at a time in one savepoint.
    The checks catch nearly every bad line, so a batch is almost always written
    whole; when the database refuses one, the batch is undone and its lines are
    read and written again one at a time, each in its own savepoint, which gives
    exactly the outcome of a line-by-line import at a line-by-line import's cost.
    """

    def __init__(self, space: Space, actor: Actor) -> None:
        self.space = space
        self.actor = actor
        self.report = ImportReport()
        self.new_id = _AscendingIds()
        self.new_ids: dict[str, dict[str, uuid.UUID]] = {
            "episode": {},
            "memory": {},
            "entity": {},
        }
        self.events: dict[str, list[tuple[str, object, dict[str, Any]]]] = defaultdict(list)
        self.first_line: int | None = None
        self.batch = _Batch()
        self.readers: dict[str, Callable[[dict[str, Any]], _Accepted]] = {
            "episode": self._read_episode,
            "memory": self._read_memory_line,
            "link": self._read_link,
            "entity": self._read_entity,
        }

    def import_line(self, number: int, line: bytes | str) -> None:
        parsed: dict[str, Any] | ImportLineError | None
        try:
            parsed = _parse_line(number, line)
        except ImportLineError as exc:
            parsed = exc
        if parsed is None:
            return
        if self.first_line is None:
            self.first_line = number
        self.batch.entries.append((number, parsed))
        self._check(number, parsed, self.batch)
        if len(self.batch.entries) >= CHUNK_SIZE:
            self._write(self.batch)
            self.batch = _Batch()

    def finish(self) -> ImportReport:
        self._write(self.batch)
        self.batch = _Batch()
        self.report.errors.sort(key=lambda error: error["line"])
        for action in list(self.events):
            self._flush_events(action)
        return self.report

    # ------------------------------------------------------------ batches

    def _check(self, number: int, parsed: dict[str, Any] | ImportLineError, batch: _Batch) -> None:
        try:
            if isinstance(parsed, ImportLineError):
                raise parsed
            accepted = self._read_record(number, parsed)
        except MemoryServiceError as exc:
            batch.errors.append(_error(number, exc))
            return
        if accepted is not None:
            batch.accepted.append(accepted)

    def _read_record(self, number: int, record: dict[str, Any]) -> _Accepted | None:
        if record["type"] == "space":
            self._check_header(number, record)
            return None
        reader = self.readers.get(record["type"])
        if reader is None:
            raise ImportLineError(
                "invalid_line",
                f"unknown line type {record['type']!r}",
                {"type": f"one of space, {', '.join(self.readers)}"},
            )
        accepted = reader(record)
        accepted.line = number
        if accepted.old_id is not None:
            self.new_ids[accepted.record_type][accepted.old_id] = accepted.rows[0].pk
        return accepted

    def _write(self, batch: _Batch) -> None:
        if not batch.accepted:
            self.report.errors += batch.errors
            return
        try:
            with transaction.atomic(), _database_refusal_as_line_error():
                _insert(self.space, [row for accepted in batch.accepted for row in accepted.rows])
        except ImportLineError as refusal:
            self._forget(batch)
            if len(batch.entries) > 1:
                self._write_one_by_one(batch)
            else:
                self.report.errors += [*batch.errors, _error(batch.accepted[0].line, refusal)]
            return
        self._keep(batch)

    def _write_one_by_one(self, batch: _Batch) -> None:
        for number, parsed in batch.entries:
            single = _Batch(entries=[(number, parsed)])
            self._check(number, parsed, single)
            self._write(single)

    def _forget(self, batch: _Batch) -> None:
        for accepted in batch.accepted:
            if accepted.old_id is not None:
                del self.new_ids[accepted.record_type][accepted.old_id]

    def _keep(self, batch: _Batch) -> None:
        self.report.errors += batch.errors
        for accepted in batch.accepted:
            self.report.imported[accepted.record_type] += 1
            action = f"{accepted.record_type}.import"
            target = accepted.rows[0].pk  # a link's id exists only once it is inserted
            self.events[action].append((accepted.record_type, target, accepted.summary))
            if len(self.events[action]) >= CHUNK_SIZE:
                self._flush_events(action)

    def _flush_events(self, action: str) -> None:
        targets = self.events.pop(action, [])
        if targets:
            record_events(self.space, self.actor, action, targets)

    def _claim_id(self, record_type: str, old_id: str) -> uuid.UUID:
        if old_id in self.new_ids[record_type]:
            raise ImportLineError(
                "duplicate", f"{record_type} {old_id} was already imported", {"id": old_id}
            )
        return self.new_id()

    def _resolve(self, record_type: str, references: dict[str, str]) -> dict[str, uuid.UUID]:
        """Translate {path: old id} into new ids, or fail naming every unknown one."""
        known = self.new_ids[record_type]
        missing = {path: old for path, old in references.items() if old not in known}
        if missing:
            raise ImportLineError(
                "unknown_reference",
                f"no {record_type} with that id was imported on an earlier line",
                missing,
            )
        return {path: known[old] for path, old in references.items()}

    # ------------------------------------------------------------ line types

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

    def _read_episode(self, record: dict[str, Any]) -> _Accepted:
        reader = _Reader(record, _EPISODE_KEYS)
        old_id = reader.identifier("id")
        now = timezone.now()
        episode = Episode(
            space=self.space,
            source=reader.choice("source", Episode.Source.values, Episode.Source.MESSAGE),
            session=reader.model_text(Episode, "session", ""),
            role=reader.model_text(Episode, "role", ""),
            speaker=reader.model_text(Episode, "speaker", ""),
            agent=reader.model_text(Episode, "agent", ""),
            content=reader.model_text(Episode, "content", _REQUIRED),
            occurred_at=reader.when("occurred_at", now),
            metadata=reader.mapping("metadata"),
            created_at=reader.when("created_at", now),
        )
        reader.raise_errors()
        episode.pk = self._claim_id("episode", old_id)
        summary = {
            "imported_from": old_id,
            "session": episode.session,
            "chars": len(episode.content),
        }
        return _Accepted("episode", old_id, [episode], summary)

    def _read_memory_line(self, record: dict[str, Any]) -> _Accepted:
        reader = _Reader(record, (*_MEMORY_KEYS, "source_episodes", "versions"))
        old_id = reader.identifier("id")
        memory = self._read_memory(reader)
        versions = self._read_versions(reader, memory)
        episode_refs = reader.strings("source_episodes", max_length=200)
        reader.raise_errors()
        memory.content_hash = content_hash(memory.content)
        check_validity(memory)
        self._check_history(memory, versions, declared=record.get("version"))
        episode_ids = self._resolve(
            "episode",
            {f"source_episodes[{i}]": old for i, old in enumerate(dict.fromkeys(episode_refs))},
        )
        memory.pk = self._claim_id("memory", old_id)
        self._translate_merged_from(memory, versions)
        for version in versions:
            version.memory = memory
        through = Memory.source_episodes.through
        sources = [through(memory_id=memory.pk, episode_id=pk) for pk in episode_ids.values()]
        summary = {
            "imported_from": old_id,
            "version": memory.version,
            "kind": memory.kind,
            "subject": memory.subject,
            "chars": len(memory.content),
            "source_episodes": [str(pk) for pk in episode_ids.values()],
        }
        return _Accepted("memory", old_id, [memory, *sources, *versions], summary)

    def _read_memory(self, reader: _Reader) -> Memory:
        snapshot = _snapshot(reader)
        created_at = reader.when("created_at", timezone.now())
        memory = Memory(
            space=self.space,
            **snapshot,
            created_at=created_at,
            updated_at=reader.when("updated_at", created_at),
            version=reader.integer("version", 1, minimum=1),
            access_count=reader.integer("access_count", 0, minimum=0),
            last_accessed_at=reader.optional_when("last_accessed_at", None),
            strength=reader.number("strength", 1.0, minimum=0, exclusive=True),
        )
        return memory

    def _read_versions(self, reader: _Reader, memory: Memory) -> list[MemoryVersion]:
        if not reader.has("versions"):
            # A hand-written line without history: its state is its first version.
            return [
                MemoryVersion(
                    space=self.space,
                    version=1,
                    action=MemoryVersion.Action.CREATE,
                    reason="imported",
                    created_at=memory.created_at,
                    **self.actor.as_fields(),
                    **memory.snapshot(),
                )
            ]
        versions = []
        for index, item in enumerate(reader.objects("versions")):
            version_reader = reader.child(item, _VERSION_KEYS, f"versions[{index}]")
            if version_reader is not None:
                versions.append(self._read_version(version_reader))
        return versions

    def _read_version(self, reader: _Reader) -> MemoryVersion:
        snapshot = _snapshot(reader)
        version = MemoryVersion(
            space=self.space,
            version=reader.integer("version", _REQUIRED, minimum=1),
            action=reader.choice("action", MemoryVersion.Action.values, _REQUIRED),
            reason=reader.model_text(MemoryVersion, "reason", ""),
            actor_type=reader.choice("actor_type", ActorType.values, _REQUIRED),
            actor_label=reader.model_text(MemoryVersion, "actor_label", _REQUIRED),
            created_at=reader.when("created_at", _REQUIRED),
            **snapshot,
        )
        try:
            check_validity(Memory(**snapshot))
        except InvalidMemory as exc:
            reader.fail("valid_from", exc.message)
        return version

    @staticmethod
    def _check_history(memory: Memory, versions: list[MemoryVersion], declared: Any) -> None:
        """Versions number 1..n, the memory is at n, and version n is the memory's state."""
        versions.sort(key=lambda version: version.version)
        numbers = [version.version for version in versions]
        if not versions:
            raise ImportLineError("invalid_versions", "a memory needs at least one version")
        if numbers != list(range(1, len(versions) + 1)):
            raise ImportLineError(
                "invalid_versions", "versions must be numbered 1 to n", {"versions": numbers}
            )
        if declared is not None and memory.version != len(versions):
            raise ImportLineError(
                "invalid_versions",
                f"the memory is at version {memory.version} but has {len(versions)} versions",
                {"version": memory.version, "versions": len(versions)},
            )
        memory.version = len(versions)
        latest = versions[-1].snapshot()
        differing = sorted(
            name for name, value in memory.snapshot().items() if latest[name] != value
        )
        if differing:
            raise ImportLineError(
                "invalid_versions",
                "the last version must hold the memory's current fields",
                {"fields": differing},
            )

    def _translate_merged_from(self, memory: Memory, versions: list[MemoryVersion]) -> None:
        """merge_memories records the originals' ids in metadata; point them at the copies."""
        known = self.new_ids["memory"]
        rows: list[Memory | MemoryVersion] = [memory, *versions]
        for row in rows:
            merged_from = row.metadata.get("merged_from")
            if isinstance(merged_from, list):
                row.metadata = {
                    **row.metadata,
                    "merged_from": [
                        str(known[old]) if isinstance(old, str) and old in known else old
                        for old in merged_from
                    ],
                }

    def _read_link(self, record: dict[str, Any]) -> _Accepted:
        reader = _Reader(record, _LINK_KEYS)
        ends = {"source": reader.identifier("source"), "target": reader.identifier("target")}
        link = Link(
            space=self.space,
            type=reader.choice("link_type", LinkType.values, _REQUIRED),
            weight=reader.number("weight", 1.0, minimum=0),
            metadata=reader.mapping("metadata"),
            created_by=reader.model_text(Link, "created_by", self.actor.label),
            created_at=reader.when("created_at", timezone.now()),
        )
        if ends["source"] and ends["source"] == ends["target"]:
            reader.fail("target", "a memory cannot link to itself")
        reader.raise_errors()
        resolved = self._resolve("memory", ends)
        link.source_id, link.target_id = resolved["source"], resolved["target"]
        summary = {
            "source": str(link.source_id),
            "target": str(link.target_id),
            "type": link.type,
            "weight": link.weight,
        }
        return _Accepted("link", None, [link], summary)

    def _read_entity(self, record: dict[str, Any]) -> _Accepted:
        reader = _Reader(record, (*_ENTITY_KEYS, "mentions"))
        old_id = reader.identifier("id")
        entity = Entity(
            space=self.space,
            name=reader.model_text(Entity, "name", _REQUIRED),
            kind=reader.choice("kind", Entity.EntityKind.values, Entity.EntityKind.OTHER),
            aliases=reader.strings("aliases", max_length=200),
            metadata=reader.mapping("metadata"),
            created_at=reader.when("created_at", timezone.now()),
        )
        entity.normalized_name = Entity.normalize(entity.name)
        if len(entity.normalized_name) > 200:
            reader.fail("name", "must be at most 200 characters once normalised")
        mentions = self._read_mentions(reader, entity)
        reader.raise_errors()
        memory_ids = self._resolve(
            "memory", {f"mentions[{i}].memory": old for i, (old, _) in enumerate(mentions)}
        )
        entity.pk = self._claim_id("entity", old_id)
        for (_, mention), memory_id in zip(mentions, memory_ids.values(), strict=True):
            mention.entity, mention.memory_id = entity, memory_id
        summary = {
            "imported_from": old_id,
            "name": entity.name,
            "kind": entity.kind,
            "mentions": len(mentions),
        }
        return _Accepted("entity", old_id, [entity, *(m for _, m in mentions)], summary)

    def _read_mentions(self, reader: _Reader, entity: Entity) -> list[tuple[str, Mention]]:
        """(old memory id, unsaved mention) for each mention of the entity."""
        mentions: list[tuple[str, Mention]] = []
        seen: set[str] = set()
        for index, item in enumerate(reader.objects("mentions")):
            path = f"mentions[{index}]"
            mention_reader = reader.child(item, _MENTION_KEYS, path)
            if mention_reader is None:
                continue
            memory = mention_reader.identifier("memory")
            if memory in seen:
                mention_reader.fail("memory", "mentioned twice")
            seen.add(memory)
            start = mention_reader.optional_integer("start", None, minimum=0)
            end = mention_reader.optional_integer("end", None, minimum=0)
            if start is not None and end is not None and end <= start:
                mention_reader.fail("end", "must be greater than start")
            created_at = mention_reader.when("created_at", entity.created_at)
            mention = Mention(space=self.space, start=start, end=end, created_at=created_at)
            mentions.append((memory, mention))
        return mentions
