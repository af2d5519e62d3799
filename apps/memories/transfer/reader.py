"""Reading one import line: its JSON, then its fields, collecting every problem."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.utils import timezone

from apps.core.payload import MAX_DEPTH, holds_unstorable_text, nesting_depth_exceeds
from apps.memories.models import Memory, Status
from apps.memories.services import EDITABLE_FIELDS, ContentTooLarge, InvalidMemory
from apps.memories.services.rules import validate_fields
from apps.memories.transfer.report import ImportLineError
from apps.memories.transfer.schema import DATE_FIELDS

# PositiveIntegerField is a Postgres integer.
_MAX_INTEGER = 2**31 - 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_line(number: int, line: bytes | str) -> dict[str, Any] | None:
    """The line's JSON object, or None for a blank line."""
    try:
        text = line.decode() if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise ImportLineError("malformed_json", "the line is not UTF-8 text") from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    if nesting_depth_exceeds(text):
        raise ImportLineError(
            "malformed_json",
            f"the line nests arrays and objects more than {MAX_DEPTH} levels deep",
            {"max_depth": MAX_DEPTH},
        )
    try:
        # NaN and Infinity are Python's extensions to JSON; no column can hold them.
        record = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ImportLineError("malformed_json", f"the line is not valid JSON: {exc}") from None
    if "\\ud" in text.casefold() and holds_unstorable_text(record):
        raise ImportLineError("malformed_json", "the line holds text that is not valid Unicode")
    if not isinstance(record, dict):
        raise ImportLineError("invalid_line", "each line must be a JSON object")
    if not isinstance(record.get("type"), str):
        raise ImportLineError("invalid_line", 'the line has no "type"', {"type": "required"})
    return record


REQUIRED: Any = object()
# What a getter returns for a bad date-time; the line fails before it is stored.
_PLACEHOLDER_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class FieldReader:
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

    def child(self, record: Any, allowed: Iterable[str], path: str) -> FieldReader | None:
        if not isinstance(record, dict):
            self.fail(path, "must be an object")
            return None
        return FieldReader(record, allowed, prefix=f"{self.prefix}{path}.", errors=self.errors)

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
        if default is REQUIRED:
            self.fail(name, "required")
        return default

    def identifier(self, name: str) -> str:
        value = self._value(name, REQUIRED)
        if not isinstance(value, str) or not value:
            if value is not REQUIRED:
                self.fail(name, "must be a non-empty string")
            return ""
        return value

    def text(
        self, name: str, default: Any, *, max_length: int | None, required: bool = False
    ) -> str:
        value = self._value(name, default)
        if value is REQUIRED:
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
        return self.text(name, default, max_length=max_length, required=default is REQUIRED)

    def choice(self, name: str, choices: list[str], default: Any) -> str:
        value = self._value(name, default)
        if value is not REQUIRED and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}")
            return ""
        return str(value) if value is not REQUIRED else ""

    def integer(self, name: str, default: Any, *, minimum: int) -> int:
        value = self._value(name, default)
        if value is REQUIRED:
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
        if value is None or value is REQUIRED or isinstance(value, datetime):
            return None if value is REQUIRED else value
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


def read_snapshot(reader: FieldReader) -> dict[str, Any]:
    """The versioned fields of a memory or of one of its versions, checked by the
    domain layer's own rules; fields left out take the model's defaults."""
    raw: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        if name in DATE_FIELDS:
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
