"""The rules a memory's editable fields must meet, checked before anything is written."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.memories.models import Kind, Memory
from apps.memories.services.errors import ContentTooLarge, InvalidMemory

# What a caller may change directly; status changes have their own actions.
EDITABLE_FIELDS = tuple(name for name in Memory.VERSIONED_FIELDS if name != "status")


def clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidMemory("tags must be strings", details={"tags": "not a string"})
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > 64:
            raise InvalidMemory("a tag is longer than 64 characters", details={"tags": tag[:64]})
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(item) for item in value)
    return False


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
        elif len(content) > settings.MEMORY_MAX_CONTENT_CHARS:
            raise ContentTooLarge(
                f"content has {len(content)} characters; the limit is "
                f"{settings.MEMORY_MAX_CONTENT_CHARS}",
                details={"content": "too large", "limit": settings.MEMORY_MAX_CONTENT_CHARS},
            )
    if "kind" in fields and fields["kind"] not in Kind.values:
        errors["kind"] = f"must be one of {', '.join(Kind.values)}"
    for name in ("importance", "confidence"):
        if name in fields:
            value = fields[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                errors[name] = "must be a number from 0 to 1"
    if "pinned" in fields and not isinstance(fields["pinned"], bool):
        errors["pinned"] = "must be true or false"
    if "metadata" in fields and not isinstance(fields["metadata"], dict):
        errors["metadata"] = "must be an object"
    for name in ("subject", "agent", "session"):
        if name in fields and (not isinstance(fields[name], str) or len(fields[name]) > 200):
            errors[name] = "must be text of at most 200 characters"
    for name in ("occurred_at", "valid_from", "valid_to"):
        value = fields.get(name)
        if value is not None and not isinstance(value, datetime):
            errors[name] = "must be a date-time"
        elif value is not None and timezone.is_naive(value):
            errors[name] = "must include a time zone"
    for name, value in fields.items():
        if holds_nul(value):
            # PostgreSQL cannot store U+0000 in text or jsonb.
            errors[name] = "must not contain the NUL character (U+0000)"
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
