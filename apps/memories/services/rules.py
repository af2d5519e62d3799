"""The check of a memory's editable fields against `MemoryRules`, made before anything
is written: by the domain layer on every change, and by the import reader."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.core.payload import unstorable_text
from apps.memories.models import Kind, Memory, MemoryRules
from apps.memories.services.errors import ContentTooLarge, InvalidMemory

# What a caller may change directly; status changes have their own actions.
EDITABLE_FIELDS = tuple(name for name in Memory.VERSIONED_FIELDS if name != "status")


def clean_tags(tags: Iterable[str]) -> list[str]:
    """The tags stripped, without blanks and repeats, in their order; raises
    InvalidMemory for a tag too long or too many tags."""
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidMemory("tags must be strings", details={"tags": "not a string"})
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > MemoryRules.TAG_MAX_LENGTH:
            raise InvalidMemory(
                f"a tag is longer than {MemoryRules.TAG_MAX_LENGTH} characters",
                details={"tags": tag[: MemoryRules.TAG_MAX_LENGTH]},
            )
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MemoryRules.MAX_TAGS:
        raise InvalidMemory(
            f"a memory has at most {MemoryRules.MAX_TAGS} tags",
            details={"tags": f"{len(cleaned)} tags; the limit is {MemoryRules.MAX_TAGS}"},
        )
    return cleaned


def validate_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise editable fields; raises InvalidMemory naming each bad field."""
    errors: dict[str, str] = {}
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        errors.update({name: "not an editable field" for name in sorted(unknown)})
    if "content" in fields:
        content = fields["content"]
        if not isinstance(content, str) or not content.strip():
            errors["content"] = "must be non-empty text"
        elif len(content) > (limit := MemoryRules.content_max_chars()):
            raise ContentTooLarge(
                f"content has {len(content)} characters; the limit is {limit}",
                details={"content": "too large", "limit": limit},
            )
    if "kind" in fields and fields["kind"] not in Kind.values:
        errors["kind"] = f"must be one of {', '.join(Kind.values)}"
    for name in ("importance", "confidence"):
        if name in fields:
            value = fields[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not MemoryRules.SCORE_MIN <= value <= MemoryRules.SCORE_MAX
            ):
                errors[name] = (
                    f"must be a number from {MemoryRules.SCORE_MIN:g} to {MemoryRules.SCORE_MAX:g}"
                )
    if "pinned" in fields and not isinstance(fields["pinned"], bool):
        errors["pinned"] = "must be true or false"
    if "metadata" in fields and not isinstance(fields["metadata"], dict):
        errors["metadata"] = "must be an object"
    for name in ("subject", "agent", "session"):
        value = fields.get(name)
        if name in fields and (
            not isinstance(value, str) or len(value) > MemoryRules.LABEL_MAX_LENGTH
        ):
            errors[name] = f"must be text of at most {MemoryRules.LABEL_MAX_LENGTH} characters"
    for name in ("occurred_at", "valid_from", "valid_to"):
        value = fields.get(name)
        if value is not None and not isinstance(value, datetime):
            errors[name] = "must be a date-time"
        elif value is not None and timezone.is_naive(value):
            errors[name] = "must include a time zone"
    for name, value in fields.items():
        found = unstorable_text(value)
        if found is not None:
            # PostgreSQL cannot store U+0000 or half a surrogate pair in text or jsonb.
            errors[name] = f"must not contain {found[1]}"
    if "tags" in fields:
        if isinstance(fields["tags"], str) or not isinstance(fields["tags"], list | tuple):
            errors["tags"] = "must be a list of strings"
        else:
            fields = {**fields, "tags": clean_tags(fields["tags"])}
    if errors:
        raise InvalidMemory("invalid memory fields", details=errors)
    return fields


def check_validity(memory: Memory) -> None:
    if memory.valid_from and memory.valid_to and memory.valid_from >= memory.valid_to:
        raise InvalidMemory(
            "valid_from must be before valid_to",
            details={
                "valid_from": memory.valid_from.isoformat(),
                "valid_to": memory.valid_to.isoformat(),
            },
        )


def check_redacted_content(content: str, **where: Any) -> None:
    """A redaction's `[REDACTED:type]` may be longer than the text it replaces, so a
    content within the limit can outgrow it once redacted: InvalidMemory (422, the
    writer asked for nothing too large), naming the lengths and `where` (which memory,
    which item), never the text."""
    limit = MemoryRules.content_max_chars()
    if len(content) > limit:
        raise InvalidMemory(
            f"once redacted the content would have {len(content)} characters; the limit is {limit}",
            details={
                "content": "too long once redacted",
                "chars": len(content),
                "limit": limit,
                **where,
            },
        )
