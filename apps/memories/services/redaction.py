"""Redaction: taking a secret or a piece of personal data out of a memory and out of
every copy of it, while the memory and its history stay.

Redacting writes a new version whose content has each span replaced by
`[REDACTED:type]`. The exact texts of those spans are then replaced wherever they
stand: in the memory's labels, tags and metadata; in its lineage (the memories it
was merged or summarised from, and those derived from it) and in the memories of its
conversations (its session, its episodes' sessions), each of which holding a text
gets a new version too; in the earlier versions and the source episodes of all of
them, and in every episode of those sessions; in the space's audit trail; and in
what other apps copied (stored API answers, search queries and feedback notes,
consolidation proposals: the `text_redacting` signal). Entity mentions move with the
content. The search vector follows the content (a generated column); the embedding
is dropped and recomputed after commit.

It is the one sanctioned rewrite of history: apps.audit.redaction.rewriting_history
opens the append-only triggers for it, for the text columns only (memories.0006).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.db.models import F, Func, Model, Q, QuerySet, TextField, Value
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.redaction import (
    holding_any,
    occurrences,
    rewriting_history,
    scrub_events,
    scrubbed,
)
from apps.core.bulk import insert_together
from apps.hygiene.findings import Finding
from apps.hygiene.scans import reflag_after_redaction
from apps.memories.models import (
    Episode,
    Link,
    LinkType,
    Memory,
    MemoryRules,
    MemoryVersion,
    content_hash,
)
from apps.memories.services.embeddings import drop_vectors
from apps.memories.services.entities import forget_entities_named, move_mentions
from apps.memories.services.errors import InvalidMemory
from apps.memories.services.records import (
    MemoryId,
    check_version,
    embed_after_commit,
    lock_memories,
    lock_memory,
    memory_event,
    version_row,
)
from apps.memories.services.rules import check_redacted_content
from apps.memories.signals import text_redacting
from apps.spaces.models import Space

# A type names what was taken, inside `[REDACTED:type]`: the scanner's names
# (aws_key, email, ...) or a curator's word.
SPAN_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Every occurrence of a redacted text in the space's audit trail and search log is
# replaced: a text this short would take unrelated words with it.
MIN_SPAN_CHARS = 3
REDACT = MemoryVersion.Action.REDACT
# Besides the content, the fields of a memory (and of each version's copy) and of an
# episode where a redacted text is replaced: memories.0006 lets the triggers allow
# exactly these on versions and episodes.
MEMORY_LABELS = ("subject", "agent", "session", "tags", "metadata")
MEMORY_TEXTS = ("content", "subject", "agent", "session", "tags_text")
VERSION_TEXTS = (*MEMORY_TEXTS, "reason")
EPISODE_TEXTS = ("content", "session", "speaker", "agent")

# (start, end, replacement): one place of a content a redaction replaces.
Edit = tuple[int, int, str]
_Row = TypeVar("_Row", bound=Model)


@dataclass(frozen=True)
class Span:
    """`content[start:end]` is redacted as `type`: code-point offsets, end exclusive."""

    start: int
    end: int
    type: str

    @property
    def replacement(self) -> str:
        return f"[REDACTED:{self.type}]"


def checked_spans(content: str, spans: Iterable[Sequence[Any]]) -> list[Span]:
    """The spans in content order, or InvalidMemory (422) naming what is wrong: each
    lies inside the content, is not empty or too short, names a type, and overlaps no
    other. The error never repeats the span's text."""
    found: list[Span] = []
    for index, raw in enumerate(spans):
        try:
            start, end, kind = raw
        except (TypeError, ValueError):
            raise _bad(index, "a span is [start, end, type]") from None
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            raise _bad(index, "start and end are whole numbers")
        if not 0 <= start < end <= len(content):
            raise _bad(index, f"start < end within the content (0..{len(content)})")
        if len(content[start:end].strip()) < MIN_SPAN_CHARS:
            raise _bad(index, f"at least {MIN_SPAN_CHARS} characters besides spaces")
        if not isinstance(kind, str) or not SPAN_TYPE.fullmatch(kind):
            raise _bad(index, "type: lowercase letters, digits and _ (at most 40)")
        found.append(Span(start, end, kind))
    if not found:
        raise InvalidMemory("nothing to redact", details={"spans": "at least one span"})
    found.sort(key=lambda span: span.start)
    for before, after in pairwise(found):
        if after.start < before.end:
            raise InvalidMemory(
                "redacted spans overlap",
                details={"spans": f"{before.start}..{before.end} overlaps {after.start}"},
            )
    return found


def _bad(index: int, rule: str) -> InvalidMemory:
    return InvalidMemory(f"span {index} is not valid: {rule}", details={f"spans[{index}]": rule})


def spans_of(findings: Iterable[Finding]) -> list[tuple[int, int, str]]:
    """The scanner's findings (apps.hygiene.scanner.scan) as spans to redact."""
    return [(finding.start, finding.end, finding.type) for finding in findings]


@transaction.atomic
def redact_memory(
    space: Space,
    actor: Actor,
    memory_id: MemoryId,
    spans: Iterable[Sequence[Any]] | None = None,
    *,
    findings: Iterable[Finding] | None = None,
    reason: str,
    expected_version: int | None = None,
) -> Memory:
    """Replace the spans (start, end, type) of the memory's content, or the scanner's
    `findings`, by `[REDACTED:type]` in a new version, and their texts everywhere the
    space keeps them (see the module). One `memory.redact` event per memory rewritten
    says which types went, by whom and why; never the text. A content the replacements
    would make longer than the limit is refused (InvalidMemory) and nothing changes."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidMemory("redacting needs a reason", details={"reason": "required"})
    memory = lock_memory(space, memory_id)
    check_version(memory, expected_version)
    chosen = checked_spans(memory.content, spans_of(findings or []) if spans is None else spans)
    replacements: dict[str, str] = {}
    for span in chosen:
        replacements.setdefault(memory.content[span.start : span.end], span.replacement)
    reason = scrubbed(reason, replacements)
    types = sorted({span.type for span in chosen})

    lineage_ids = _lineage_ids(space, memory)
    sessions = _sessions_of(space, memory)
    # The memories of the same conversations (by their session or their episodes'): a
    # text pasted in one turn is often repeated in another.
    session_ids = sorted(
        {
            str(pk)
            for pk in Memory.objects.for_space(space)
            .filter(Q(session__in=sessions) | Q(source_episodes__session__in=sessions))
            .exclude(pk=memory.pk)
            .values_list("pk", flat=True)
        }
    )
    # Only the memories that hold a text now are rewritten, and locked: a summary of
    # many topics joins most of a space, whose rows a redaction must not hold.
    holding = list(
        _with_tags_text(Memory.objects.for_space(space))
        .filter(pk__in=sorted({*lineage_ids, *session_ids}))
        .filter(holding_any(replacements, *MEMORY_TEXTS, json_fields=["metadata"]))
        .values_list("pk", flat=True)
    )
    others = lock_memories(space, holding) if holding else []
    edits = {memory.pk: _edits(memory.content, chosen, replacements)}
    edits |= {other.pk: occurrences(other.content, replacements) for other in others}
    contents = {m.pk: _applied(m.content, edits[m.pk]) for m in [memory, *others]}
    for other in [memory, *others]:
        # Only a content the replacements lengthen: one stored before the limit was
        # lowered must still be able to lose a secret.
        if len(contents[other.pk]) > len(other.content):
            where = {} if other is memory else {"memory": str(other.pk)}
            check_redacted_content(contents[other.pk], **where)

    rows: list[Any] = [_rewritten(memory, actor, reason, contents[memory.pk], replacements)]
    rewritten = [memory]
    for other in others:
        rows.append(_rewritten(other, actor, reason, contents[other.pk], replacements))
        rows.append(
            memory_event(
                other, actor, REDACT, reason, {"types": types, "redacted_with": str(memory.pk)}
            )
        )
        rewritten.append(other)
    every: list[MemoryId] = [memory.pk, *lineage_ids, *session_ids]
    versions, episodes = _scrub_history(space, every, sessions, replacements)
    entities = forget_entities_named(space, every, replacements)
    entities += move_mentions(
        space, {m.pk: (edits[m.pk], contents[m.pk]) for m in rewritten if edits[m.pk]}
    )
    events = scrub_events(space, replacements)
    text_redacting.send(sender=Memory, space=space, replacements=replacements)
    _scrub_admin_log(every, episodes, replacements)
    # The flags of the rewritten texts pointed at the old offsets.
    flags_resolved = reflag_after_redaction(space, actor.label, [m.pk for m in rewritten], episodes)
    summary = {
        "types": types,
        "spans": len(chosen),
        "memories_rewritten": [str(m.pk) for m in rewritten[1:]],
        "versions_scrubbed": versions,
        "episodes_scrubbed": len(episodes),
        "entities_forgotten": entities,
        "events_scrubbed": events,
        "flags_resolved": flags_resolved,
    }
    insert_together([*rows, memory_event(memory, actor, REDACT, reason, summary)])
    embed_after_commit(space.pk, len(rewritten))
    return memory


def _edits(content: str, spans: Sequence[Span], replacements: Mapping[str, str]) -> list[Edit]:
    """The spans, and every other place the same texts stand in the content."""
    edits: list[Edit] = []
    cursor = 0
    for span in [*spans, Span(len(content), len(content), "")]:
        edits += [
            (cursor + start, cursor + end, replacement)
            for start, end, replacement in occurrences(content[cursor : span.start], replacements)
        ]
        if span.type:
            edits.append((span.start, span.end, span.replacement))
        cursor = span.end
    return edits


def _applied(content: str, edits: Sequence[Edit]) -> str:
    parts, cursor = [], 0
    for start, end, replacement in edits:
        parts += [content[cursor:start], replacement]
        cursor = end
    parts.append(content[cursor:])
    return "".join(parts)


def _rewritten(
    memory: Memory, actor: Actor, reason: str, content: str, replacements: Mapping[str, str]
) -> MemoryVersion:
    """Save the memory with its redacted content and labels; returns its new version row."""
    memory.content = content
    memory.content_hash = content_hash(content)
    _scrub_fields(memory, MEMORY_LABELS, replacements)
    # The vector encodes the text that went; the embedding job computes a new one.
    drop_vectors(memory)
    memory.version += 1
    memory.updated_at = timezone.now()
    memory.save()
    return version_row(memory, actor, REDACT, reason)


def _scrub_fields(row: Model, names: Sequence[str], replacements: Mapping[str, str]) -> None:
    """Replace the texts in these fields of a memory, a version or an episode: text
    columns, a list of tags, metadata (keys and values). A label or tag the longer
    replacement would push past its column's length is cut to it (a label holding a
    secret keeps less of itself rather than the secret)."""
    for name in names:
        value = getattr(row, name)
        if name == "metadata":
            new = scrubbed(value, replacements, keys=True)
        elif name == "tags":
            tag_limit = MemoryRules.TAG_MAX_LENGTH
            new = list(dict.fromkeys(scrubbed(tag, replacements)[:tag_limit] for tag in value))
        else:
            new = scrubbed(value, replacements)
            limit = getattr(row._meta.get_field(name), "max_length", None)
            new = new[:limit] if limit else new
        setattr(row, name, new)


def _with_tags_text(rows: QuerySet[_Row]) -> QuerySet[_Row]:
    """The rows with their tags joined as `tags_text`, for `holding_any` to search."""
    joined = Func(F("tags"), Value("\n"), function="array_to_string", output_field=TextField())
    return rows.alias(tags_text=joined)


def _lineage_ids(space: Space, memory: Memory) -> list[str]:
    """Every memory joined to this one by derived_from links, either way and through
    any number of them: what it was merged or summarised from quotes its words, and so
    does what was merged or summarised from it."""
    links = Link.objects.for_space(space).filter(type=LinkType.DERIVED_FROM)
    seen = {memory.pk}
    frontier = {memory.pk}
    while frontier:
        pairs = links.filter(source_id__in=frontier) | links.filter(target_id__in=frontier)
        found = {pk for pair in pairs.values_list("source_id", "target_id") for pk in pair}
        frontier = found - seen
        seen |= found
    return sorted(str(pk) for pk in seen - {memory.pk})


def _sessions_of(space: Space, memory: Memory) -> list[str]:
    """The conversations the memory comes from: its session and its episodes'."""
    sessions = set(
        Episode.objects.for_space(space)
        .filter(memories=memory)
        .exclude(session="")
        .values_list("session", flat=True)
    )
    if memory.session:
        sessions.add(memory.session)
    return sorted(sessions)


def _scrub_history(
    space: Space,
    memory_ids: Sequence[object],
    sessions: Sequence[str],
    replacements: Mapping[str, str],
) -> tuple[int, list[str]]:
    """Replace the texts in the versions and the source episodes of these memories,
    and in every episode of these sessions; returns how many versions changed, and
    which episodes. The columns are those memories.0006 lets a redaction rewrite."""
    versions = list(
        _with_tags_text(MemoryVersion.objects.for_space(space))
        .filter(memory_id__in=memory_ids)
        .filter(holding_any(replacements, *VERSION_TEXTS, json_fields=["metadata"]))
    )
    for version in versions:
        _scrub_fields(version, ["reason", "content", *MEMORY_LABELS], replacements)
    episodes = list(
        Episode.objects.for_space(space)
        .filter(Q(memories__in=memory_ids) | Q(session__in=sessions))
        .filter(holding_any(replacements, *EPISODE_TEXTS, json_fields=["metadata"]))
        .distinct()
    )
    for episode in episodes:
        _scrub_fields(episode, [*EPISODE_TEXTS, "metadata"], replacements)
    with rewriting_history(space):
        MemoryVersion.objects.for_space(space).bulk_update(
            versions, ["content", "reason", *MEMORY_LABELS]
        )
        Episode.objects.for_space(space).bulk_update(episodes, [*EPISODE_TEXTS, "metadata"])
    return len(versions), [str(episode.pk) for episode in episodes]


def _scrub_admin_log(
    memory_ids: Sequence[object], episode_ids: Sequence[str], replacements: Mapping[str, str]
) -> None:
    """The admin's change log names a memory or an episode by the start of its text."""
    entries = LogEntry.objects.filter(
        content_type__app_label="memories",
        object_id__in=[*(str(pk) for pk in memory_ids), *episode_ids],
    ).filter(holding_any(replacements, "object_repr", "change_message"))
    for entry in entries:
        entry.object_repr = scrubbed(entry.object_repr, replacements)
        entry.change_message = scrubbed(entry.change_message, replacements)
        entry.save(update_fields=["object_repr", "change_message"])
