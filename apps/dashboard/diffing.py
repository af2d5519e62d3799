"""Differences between two versions of a memory, for people to read.

Pure functions: no database, no request. Text is compared word by word (words are
what a curator edits; characters are too noisy, lines too coarse), but each word
keeps the whitespace that followed it so paragraphs survive in the output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any, Literal

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Op = Literal["equal", "delete", "insert"]
Segment = tuple[Op, str]


def _words(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Leading whitespace, then each word with the whitespace after it."""
    stripped = text.lstrip()
    leading = text[: len(text) - len(stripped)]
    pairs: list[tuple[str, str]] = []
    position = 0
    for word in stripped.split():
        start = stripped.index(word, position)
        if pairs:
            previous_word, _ = pairs[-1]
            pairs[-1] = (previous_word, stripped[position:start])
        pairs.append((word, ""))
        position = start + len(word)
    if pairs:
        pairs[-1] = (pairs[-1][0], stripped[position:])
    return leading, pairs


def _joined(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(word + space for word, space in pairs)


def word_diff(old: str, new: str) -> list[Segment]:
    """Segments that turn `old` into `new`: ("equal" | "delete" | "insert", text).

    Only the words are compared, so re-flowing a paragraph is not a change; the
    unchanged runs are shown with the new text's spacing.
    """
    _, old_pairs = _words(old or "")
    new_leading, new_pairs = _words(new or "")
    matcher = SequenceMatcher(
        a=[word for word, _ in old_pairs], b=[word for word, _ in new_pairs], autojunk=False
    )
    segments: list[Segment] = []
    if new_leading:
        segments.append(("equal", new_leading))
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            segments.append(("equal", _joined(new_pairs[b_start:b_end])))
            continue
        if tag in ("delete", "replace"):
            # The old text's line break after a removed run would reshape the new
            # text's layout; one space keeps the words apart.
            removed = _joined(old_pairs[a_start:a_end])
            body = removed.rstrip()
            segments.append(("delete", body + (" " if body != removed else "")))
        if tag in ("insert", "replace"):
            segments.append(("insert", _joined(new_pairs[b_start:b_end])))
    return _merged(segments)


def _merged(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for op, text in segments:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


_TAGS = {"delete": "del", "insert": "ins"}


def render_segments(segments: Sequence[Segment]) -> SafeString:
    """Escaped HTML: removed words in <del>, added words in <ins>, the rest plain.

    Trailing whitespace is kept outside the tags so a highlight does not run into
    the next line.
    """
    parts: list[str] = []
    previous = ""
    for op, text in segments:
        tag = _TAGS.get(op)
        if tag is None:
            parts.append(escape(text))
        else:
            # The last word of a text has no whitespace after it; keep words apart.
            gap = " " if previous and not previous[-1].isspace() else ""
            body = text.rstrip()
            parts.append(f"{gap}<{tag}>{escape(body)}</{tag}>{escape(text[len(body) :])}")
        previous = text
    return mark_safe("".join(parts))


def render_word_diff(old: str, new: str) -> SafeString:
    return render_segments(word_diff(old, new))


def display_value(value: Any) -> str:
    """One line of text for a field's value, the same for both sides of a diff."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _json_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class KeyChange:
    key: str
    change: Literal["added", "removed", "changed"]
    old: str
    new: str


def metadata_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[KeyChange]:
    """Keys added, removed or changed between two metadata objects, by key name.

    Values are shown as JSON, so a string "1" and a number 1 differ visibly.
    """
    old = old or {}
    new = new or {}
    changes: list[KeyChange] = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in old:
            changes.append(KeyChange(str(key), "added", "", _json_value(new[key])))
        elif key not in new:
            changes.append(KeyChange(str(key), "removed", _json_value(old[key]), ""))
        elif old[key] != new[key]:
            changes.append(
                KeyChange(str(key), "changed", _json_value(old[key]), _json_value(new[key]))
            )
    return changes


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str
    new: str

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


def field_changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    skip: Sequence[str] = ("content", "metadata"),
) -> list[FieldChange]:
    """Each field whose value differs between two snapshots (old → new), in the
    order of `old`; `skip` names the fields that get their own, finer diff."""
    return [
        FieldChange(name, display_value(old[name]), display_value(new.get(name)))
        for name in old
        if name not in skip and old[name] != new.get(name)
    ]
