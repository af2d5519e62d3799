"""Entities without a model: who and what memories are about, found from the subject
and agent fields, #hashtags and proper-noun spans (capitalised words that are not just
the start of a sentence). They join memories in the graph through their mentions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef

from apps.audit.actors import Actor
from apps.memories.models import Entity, Memory, Mention
from apps.memories.services.entities import NamedSpan, record_mentions
from apps.spaces.models import Space

HASHTAG = re.compile(r"#(\w{2,64})")
# Letters, apostrophes (straight or typographic, U+2019) and hyphens.
_WORD = "[A-ZÀ-Ý][\\w'\u2019-]*"
# Lower-case particles inside a name: "Bank of England", "Mercado do Bolhão",
# "Ludwig van Beethoven".
_PARTICLE = r"(?:of|the|de|da|do|das|dos|del|della|di|du|van|von|der|den|ter)\s+"
PROPER = re.compile(rf"\b{_WORD}(?:\s+(?:{_PARTICLE})?{_WORD})*")
POSSESSIVE = re.compile("['\u2019]s?$")
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)$")
# Capitalised but naming nothing: pronouns, articles, months and days are too common to
# be worth a node (a later, LLM-backed pass may keep them when it knows better).
NOT_NAMES = {
    "i", "i'm", "i've", "i'll", "i'd", "a", "an", "the", "this", "that", "these", "those",
    "he", "she", "it", "we", "they", "you", "my", "our", "his", "her", "their", "your",
    "and", "but", "or", "so", "if", "when", "then", "yes", "no", "ok", "oh", "hi", "hey",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "wow", "thanks", "thank", "great",
}  # fmt: skip


def names_in(text: str) -> list[tuple[str, int, int, str]]:
    """(name, start, end, kind) for the hashtags and proper-noun spans of `text`."""
    found: list[tuple[str, int, int, str]] = [
        (m.group(1), m.start(), m.end(), str(Entity.EntityKind.TOPIC))
        for m in HASHTAG.finditer(text)
    ]
    for match in PROPER.finditer(text):
        name = match.group(0).strip()
        words = name.split()
        if SENTENCE_START.search(text[: match.start()]):
            # At a sentence start a capital says nothing: drop the first word then.
            if len(words) == 1:
                continue
            name = " ".join(words[1:])
        end = match.end()
        # "Tomás's sister" names Tomás; "the Joneses' house" names the Joneses.
        owner = POSSESSIVE.sub("", name)
        end -= len(name) - len(owner)
        name = owner
        if name.casefold() in NOT_NAMES or len(name) < 2:
            continue
        found.append((name, end - len(name), end, str(Entity.EntityKind.OTHER)))
    return found


def extract(space: Space, actor: Actor, memories: Iterable[Memory] | None = None) -> int:
    """Mentions for the active memories that have none yet; returns how many were made.

    People (the subject and agent fields) are also found wherever their name appears in
    a text, even opening a sentence, where a capital alone would say nothing; so is a
    person's first name alone ("Maya" for Maya Okafor) when no other person shares it.
    """
    if memories is None:
        mentioned = Mention.objects.for_space(space).filter(memory=OuterRef("pk"))
        memories = (
            Memory.objects.for_space(space)
            .active()
            .filter(~Exists(mentioned))
            .only("pk", "content", "subject", "agent")
        )
    targets = list(memories)
    people = dict(
        Entity.objects.for_space(space)
        .filter(kind=Entity.EntityKind.PERSON)
        .values_list("normalized_name", "name")
    )
    people |= {Entity.normalize(f): f for m in targets for f in (m.subject, m.agent) if f}
    aliases = _first_names(people)
    named = _any_name(set(people) | set(aliases))
    spans: list[NamedSpan] = []
    for memory in targets:
        found: list[tuple[str, int | None, int | None, str]] = list(names_in(memory.content))
        if named is not None:
            found += [
                (m.group(0), m.start(), m.end(), Entity.EntityKind.PERSON)
                for m in named.finditer(memory.content)
            ]
        for field in (memory.subject, memory.agent):
            if field:
                found.append((field, None, None, Entity.EntityKind.PERSON))
        for name, start, end, kind in found:
            if (normalized := Entity.normalize(name)) in aliases:
                name, kind = aliases[normalized], Entity.EntityKind.PERSON
            spans.append(NamedSpan(memory.pk, name, kind, start=start, end=end))
    return record_mentions(space, actor, spans)


def _first_names(people: dict[str, str]) -> dict[str, str]:
    """normalized first name -> the one person (display name) of several words who has it;
    a first name two people share, or that is a person's whole name, stays itself."""
    owners: dict[str, set[str]] = {}
    for name in people.values():
        first, *rest = name.split()
        if rest:
            owners.setdefault(Entity.normalize(first), set()).add(name)
    return {
        first: names.pop()
        for first, names in owners.items()
        if len(names) == 1 and first not in people and first not in NOT_NAMES and len(first) > 1
    }


def _any_name(names: set[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    longest_first = sorted(names, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, longest_first)) + r")\b", re.IGNORECASE)


def apply_proposal(proposal: Any, actor: Actor) -> dict[str, Any]:
    # Placeholder until entity proposals land (issue 21).
    raise NotImplementedError
