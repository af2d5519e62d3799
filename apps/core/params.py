"""Date-times, days and integers from query strings, forms and cursors: parsed in one
place, so every endpoint and page refuses the same values with the same message.

An instant is refused unless PostgreSQL and Python can both hold it: PostgreSQL
refuses offsets of 16 hours or more, and a date near year 1 or 9999 can leave
Python's range when moved to UTC or shown in another zone. Integers are ASCII digits
only: `str.isdigit()` passes "²", which `int()` then fails on, and `int()` reads the
digits of every script.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from django import forms
from django.utils import timezone

# A day's margin at both ends of Python's range: any offset a zone can have fits.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
# PostgreSQL's limit for a time zone displacement.
MAX_OFFSET = timedelta(hours=15, minutes=59, seconds=59)
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INSTANT_EXAMPLE = "2026-11-25T14:30:00Z"


class InvalidParameter(ValueError):
    """A parameter that is not a value of its kind; `message` says what it must be."""

    def __init__(
        self, name: str, message: str, value: object, *, code: str, malformed: bool = False
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.value = value
        self.code = code
        # Not written as a value of its kind at all (rather than out of range).
        self.malformed = malformed


def parse_instant(value: str, name: str, *, assume: tzinfo | None = None) -> datetime:
    """The ISO 8601 date-time `value`, in UTC. Without an offset it is read in `assume`,
    or refused when `assume` is None."""
    try:
        if not value.isascii():
            raise ValueError
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidParameter(
            name,
            f"{name} is not an ISO 8601 date-time, e.g. {INSTANT_EXAMPLE}",
            value,
            code="invalid_date",
            malformed=True,
        ) from None
    if parsed.tzinfo is None:
        if assume is None:
            raise InvalidParameter(
                name, f"{name} needs a time zone (e.g. Z or +01:00)", value, code="invalid_date"
            )
        try:
            parsed = timezone.make_aware(parsed, assume)
        except (OverflowError, ValueError):
            raise _out_of_range(name, value) from None
    offset = parsed.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise InvalidParameter(
            name, f"{name} has a time zone offset beyond ±15:59", value, code="invalid_date"
        )
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(name, value) from None
    if not EARLIEST <= instant <= LATEST:
        raise _out_of_range(name, value)
    return instant


def _out_of_range(name: str, value: str) -> InvalidParameter:
    return InvalidParameter(
        name,
        f"{name} must lie between {EARLIEST.date()} and {LATEST.date()} in UTC",
        value,
        code="invalid_date",
    )


def parse_day(value: str, name: str) -> date:
    """The calendar day `value` (YYYY-MM-DD), far enough from Python's limits that the
    day after it and its midnight in any zone exist."""
    try:
        if not _DAY.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            name,
            f"{name} is not a day written as YYYY-MM-DD",
            value,
            code="invalid_date",
            malformed=True,
        ) from None
    if not EARLIEST.date() <= day <= LATEST.date():
        raise InvalidParameter(
            name,
            f"{name} must lie between {EARLIEST.date()} and {LATEST.date()}",
            value,
            code="invalid_date",
        )
    return day


def parse_int(value: str, name: str, *, minimum: int, maximum: int) -> int:
    """The whole number `value`, written in ASCII digits, from `minimum` to `maximum`."""
    if not _INTEGER.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise InvalidParameter(
            name,
            f"{name} must be a whole number from {minimum} to {maximum}",
            value,
            code="invalid_request",
        )
    return int(value)


class InstantFormField(forms.DateTimeField):
    """A form's date-time, read by parse_instant; without an offset, in the current zone."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            zone = timezone.get_current_timezone()
            return parse_instant(
                str(value).strip(), str(self.label or "the date-time"), assume=zone
            )
        except InvalidParameter as refused:
            raise _form_error(self, refused) from None


class DayFormField(forms.DateField):
    """A form's calendar day, read by parse_day."""

    def to_python(self, value: Any) -> date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            return value
        try:
            return parse_day(str(value).strip(), str(self.label or "the day"))
        except InvalidParameter as refused:
            raise _form_error(self, refused) from None


def _form_error(field: forms.Field, refused: InvalidParameter) -> forms.ValidationError:
    """Django's own words for a value that is not a date at all; ours for one out of range."""
    if refused.malformed:
        return forms.ValidationError(field.error_messages["invalid"], code="invalid")
    return forms.ValidationError(refused.message[:1].upper() + refused.message[1:] + ".")
