"""Entities without a model: who and what memories are about, found from the subject
and agent fields, #hashtags and proper-noun spans (capitalised words that are not just
the start of a sentence), and judged a person, a place, an organisation, a topic or
"other" by word lists (apps.consolidation.gazetteer) and the words around them. They
join memories in the graph through their mentions.

Consolidation proposes them, one proposal per (name, kind) in a space, for a person or
the space's policy to apply; `extract` records them at once, for a caller that decided
already. Precision first: a name nothing vouches for stays "other", with a low score.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef

from apps.audit.actors import Actor
from apps.consolidation import gazetteer
from apps.consolidation.models import Operation, Proposal
from apps.memories.models import Entity, Memory, Mention
from apps.memories.services.entities import (
    NamedSpan,
    forget_mentions,
    record_entity,
    record_mentions,
)
from apps.spaces.models import ApiToken, Space

Kind = Entity.EntityKind
PERSON, PLACE, ORGANISATION = str(Kind.PERSON), str(Kind.PLACE), str(Kind.ORGANISATION)
TOPIC, OTHER = str(Kind.TOPIC), str(Kind.OTHER)

HASHTAG = re.compile(r"#(\w{2,64})")
# Letters, apostrophes (straight or typographic, U+2019) and hyphens.
_WORD = "[A-ZÀ-Ý][\\w'\u2019-]*"
# Lower-case particles inside a name: "Bank of England", "Mercado do Bolhão",
# "Ludwig van Beethoven".
_PARTICLE = r"(?:of|the|de|da|do|das|dos|del|della|di|du|van|von|der|den|ter)\s+"
PROPER = re.compile(rf"\b{_WORD}(?:\s+(?:{_PARTICLE})?{_WORD})*")
POSSESSIVE = re.compile("['\u2019]s?$")
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)$")
TITLES = {
    "dr", "mr", "mrs", "ms", "mx", "miss", "prof", "professor", "sir", "dame", "aunt",
    "auntie", "uncle", "grandma", "grandpa", "granny", "señor", "senhor", "senhora",
    "dona", "madame", "monsieur", "herr", "frau", "dra", "sr", "sra",
}  # fmt: skip
SAINT_BEFORE = re.compile(r"\b(?:St|Ste|Mt)\.\s+$")
# "Dr. Okafor": the full stop of a title does not end a sentence.
AFTER_TITLE = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|Sr|Sra|Dra)\.\s+$")
# Capitalised but naming nothing: pronouns, articles, months and days are too common to
# be worth a node (a later, LLM-backed pass may keep them when it knows better).
NOT_NAMES = {
    "i", "i'm", "i've", "i'll", "i'd", "a", "an", "the", "this", "that", "these", "those",
    "he", "she", "it", "we", "they", "you", "my", "our", "his", "her", "their", "your",
    "and", "but", "or", "so", "if", "when", "then", "yes", "no", "ok", "oh", "hi", "hey",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "wow", "thanks", "thank", "great",
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays",
}  # fmt: skip

_RELATIONS = (
    r"(?:sister|brother|sibling|mother|mum|mom|father|dad|parents?|wife|husband|partner|"
    r"boyfriend|girlfriend|fianc[ée]e?|son|daughter|kid|child|cousin|aunt|uncle|niece|"
    r"nephew|grand(?:mother|father|ma|pa|son|daughter)|best friend|friend|colleague|"
    r"co-?worker|boss|manager|teammate|room-?mate|flatmate|neighbou?r|mentor|coach|"
    r"doctor|dentist|therapist|teacher|tutor|landlord|landlady|babysitter|nanny|"
    r"(?:mother|father|sister|brother)-in-law)s?"
)
_OWNERS = r"(?:my|his|her|our|their|your)"
# "my sister Inês", "her colleague Tomás Reyes"
RELATION_BEFORE = re.compile(rf"\b{_OWNERS}\s+(?:\w+\s+)?{_RELATIONS}\s*,?\s*$", re.IGNORECASE)
# "Inês, my sister," and "Tomás's sister"
RELATION_AFTER = re.compile(
    rf"^(?:\s*,\s*{_OWNERS}\s+(?:\w+\s+)?{_RELATIONS}\b|['\u2019]s?\s+(?:\w+\s+)?{_RELATIONS}\b"
    r"|['\u2019]s?\s+(?:birthday|wedding|funeral|baby|kids|children|phone|email|house|"
    r"place|flat|apartment|home|party|parents|family))",
    re.IGNORECASE,
)
# What people do, said of the name right after it.
PERSON_VERB_AFTER = re.compile(
    r"^\s+(?:(?:also|just|still|never|always|finally|really)\s+)?"
    r"(?:said|says|told|tells|thinks|thought|asked|asks|emailed|texted|called|phoned|"
    r"messaged|wants|wanted|likes|liked|loves|loved|hates|hated|prefers|preferred|feels|"
    r"felt|believes|mentioned|suggested|recommended|promised|decided|married|graduated|"
    r"celebrated|cooked|studies|studied|lives|lived|moved|visited|flew|met|"
    r"is allergic|was born|turned \d+|is pregnant|works as|has a (?:son|daughter|dog|cat))\b",
    re.IGNORECASE,
)
_GO = (
    r"(?:moved|moving|move|relocated|relocating|flew|flying|fly|drove|driving|"
    r"travell?ed|travell?ing|went|going|go|headed|heading|returned|returning|commutes?|"
    r"trip|holidays?|vacation|flights?|train|ferry|emigrated|immigrated)\s+to"
)
_BE_IN = (
    r"(?:lives?|living|lived|born|raised|grew up|based|stayed|staying|stays?|settled|"
    r"holidays?|vacation(?:ing)?|honeymoon|arrived|arriving|landed|landing|studied|"
    r"studies|studying|apartment|flat|house|home)\s+in"
)
_SEE = r"(?:visited|visiting|visit|near|back from|flew from|moved from|capital of|city of)"
PLACE_BEFORE = re.compile(rf"\b(?:{_GO}|{_BE_IN}|{_SEE})\s+(?:the\s+)?$", re.IGNORECASE)
# Cues that a person can follow as easily as a place can: "visited Maya", "near Inês".
PLACE_OR_PERSON_CUES = re.compile(r"\b(?:visited|visiting|visit|near)\s+$", re.IGNORECASE)
ORGANISATION_BEFORE = re.compile(
    r"\b(?:works?|working|worked|job|jobs|intern(?:ship)?|interview(?:ed)?|employed|"
    r"shifts?)\s+(?:at|for|by|with)\s+(?:the\s+)?$|\b(?:joined|hired by|left|quit)\s+$",
    re.IGNORECASE,
)
POSSESSIVE_AFTER = re.compile(r"['\u2019](?:s\b|\s)")
WEAK_BEFORE = re.compile(r"\b(?:in|from|to|at)\s+$", re.IGNORECASE)


# Words that make a subject field a topic, not a name: "Project Phoenix", "Team Lunch".
NOT_PEOPLES_WORDS = {
    "project", "projects", "team", "teams", "trip", "plan", "plans", "meeting", "meetings",
    "budget", "launch", "release", "party", "event", "conference", "course", "class",
    "book", "books", "holiday", "holidays", "work", "health", "home", "house", "car",
    "diet", "fitness", "travel", "finance", "finances", "taxes", "wedding", "birthday",
    "notes", "ideas", "goals", "tasks", "todo", "shopping", "groceries", "recipes",
    "garden", "music", "movies", "reading", "learning", "job", "career", "family",
}  # fmt: skip


@dataclass(frozen=True)
class Judged:
    """What a name names (an Entity kind), how sure that is, and why."""

    kind: str
    score: float
    evidence: str


def names_in(text: str) -> list[tuple[str, int, int, str]]:
    """(name, start, end, kind) for the hashtags and proper-noun spans of `text`."""
    return [(name, start, end, judged.kind) for name, start, end, judged in _spans(text)]


def _spans(text: str) -> list[tuple[str, int, int, Judged]]:
    found: list[tuple[str, int, int, Judged]] = [
        (m.group(1), m.start(), m.end(), Judged(TOPIC, 0.9, "hashtag"))
        for m in HASHTAG.finditer(text)
    ]
    for match in PROPER.finditer(text):
        name = match.group(0).strip()
        words = name.split()
        after_title = AFTER_TITLE.search(text[: match.start()])
        title = after_title.group(0).strip() if after_title else ""
        if not title and words[0].casefold() in TITLES and len(words) > 1:
            # "Dr Maya Lopes", "Aunt Rosa": the title says a person, the name follows it.
            title = words[0]
            words = words[1:]
            name = " ".join(words)
        titled = bool(title)
        # At a sentence start a capital says nothing by itself, unless the word is a
        # first name or a place: drop the first word otherwise.
        opening = not titled and SENTENCE_START.search(text[: match.start()])
        if opening and not _known_opening(words):
            if len(words) == 1:
                continue
            words = words[1:]
            name = " ".join(words)
        # "Watched the Champions League": no name starts with a particle.
        while len(words) > 1 and re.fullmatch(_PARTICLE, words[0].casefold() + " "):
            words = words[1:]
            name = " ".join(words)
        end = match.end()
        saint = SAINT_BEFORE.search(text[: match.start()])
        if saint and not titled:
            # "St. Louis": the abbreviation's full stop ends no sentence.
            name = saint.group(0) + name
        # "Tomás's sister" names Tomás; "the Joneses' house" names the Joneses.
        owner = POSSESSIVE.sub("", name)
        end -= len(name) - len(owner)
        name = owner
        normalized = Entity.normalize(name)
        if normalized in NOT_NAMES or normalized in TITLES or normalized in gazetteer.ROLES:
            continue
        if len(name) < 2:
            continue
        start = end - len(name)
        if saint and not titled and Entity.normalize(name) in gazetteer.places():
            found.append((name, start, end, Judged(PLACE, 0.9, "gazetteer")))
            continue
        judged = (
            Judged(PERSON, 0.95, f"title: '{title} {name}'")
            if titled
            else judge(text, start, end, name)
        )
        found.append((name, start, end, judged))
    return found


def _known_opening(words: list[str]) -> bool:
    words = [*words[:-1], POSSESSIVE.sub("", words[-1])]
    first = Entity.normalize(words[0])
    if len(words) == 1:
        return first in gazetteer.FIRST_NAMES or first in gazetteer.places()
    return first in gazetteer.FIRST_NAMES or Entity.normalize(" ".join(words)) in (
        gazetteer.places()
    )


def judge(text: str, start: int, end: int, name: str) -> Judged:
    """The kind of the name at text[start:end], from the name and the words around it."""
    before, after = text[:start], text[end:]
    normalized = Entity.normalize(name)
    words = normalized.split()
    places = gazetteer.places()
    if normalized in gazetteer.ASSISTANTS:
        return Judged(OTHER, 0.5, "an assistant's name")
    organisation_word = next((w for w in words if w in gazetteer.ORGANISATION_WORDS), None)
    if normalized in gazetteer.ORGANISATIONS:
        return Judged(ORGANISATION, 0.9, "known organisation")
    if organisation_word and len(words) > 1:
        return Judged(ORGANISATION, 0.85, f"organisation word: '{organisation_word}'")
    # "drove to Maya's house" is no trip to a place called Maya.
    cue = None if POSSESSIVE_AFTER.match(after) else PLACE_BEFORE.search(before)
    cue_text = f"cue: '{cue.group(0).strip()} {name}'" if cue else ""
    if normalized in places:
        if cue:
            return Judged(PLACE, 0.95, f"gazetteer; {cue_text}")
        return Judged(PLACE, 0.9, "gazetteer")
    place_word = next((w for w in words if w in gazetteer.PLACE_WORDS), None)
    if place_word and len(words) > 1:
        return Judged(PLACE, 0.8, f"place word: '{place_word}'")
    if relation := RELATION_BEFORE.search(before):
        return Judged(PERSON, 0.9, f"cue: '{relation.group(0).strip(' ,')} {name}'")
    if relation := RELATION_AFTER.search(after):
        return Judged(PERSON, 0.9, f"cue: '{name}{relation.group(0).rstrip()}'")
    first_name = words[0] in gazetteer.FIRST_NAMES and len(words) <= 4
    verb = PERSON_VERB_AFTER.search(after)
    if cue:
        if first_name and PLACE_OR_PERSON_CUES.search(before):
            return Judged(OTHER, 0.4, f"first name, but {cue_text}")
        return Judged(PLACE, 0.7 if first_name else 0.8, cue_text)
    if first_name:
        if verb:
            return Judged(PERSON, 0.9, f"first name; cue: '{name} {verb.group(0).strip()}'")
        return Judged(PERSON, 0.85 if len(words) > 1 else 0.8, "first name")
    if ORGANISATION_BEFORE.search(before):
        found = ORGANISATION_BEFORE.search(before)
        assert found is not None
        return Judged(ORGANISATION, 0.7, f"cue: '{found.group(0).strip()} {name}'")
    if verb:
        return Judged(PERSON, 0.7, f"cue: '{name} {verb.group(0).strip()}'")
    weak = WEAK_BEFORE.search(before)
    if weak:
        return Judged(OTHER, 0.4, f"cue: '{weak.group(0).strip()} {name}' (weak)")
    return Judged(OTHER, 0.3, "capitalised")


def looks_like_a_person(name: str) -> bool:
    """Whether a subject field names a person: a known first name, or two to four
    capitalised words ("Maya Okafor") that are no place, organisation or role."""
    normalized = Entity.normalize(name)
    words = normalized.split()
    if not words or len(words) > 4 or normalized in gazetteer.ROLES:
        return False
    if normalized in gazetteer.places() or normalized in gazetteer.ORGANISATIONS:
        return False
    if any(w in gazetteer.ORGANISATION_WORDS or w in gazetteer.PLACE_WORDS for w in words):
        return False
    if words[0] in gazetteer.FIRST_NAMES:
        return True
    if any(w in NOT_PEOPLES_WORDS for w in words):
        return False
    # One capitalised word is as often a topic ("Work", "Health") as a name.
    given = name.split()
    return len(given) > 1 and all(
        re.fullmatch(_WORD, w) or re.fullmatch(r"of|the|de|da|do|das|dos|del|van|von", w)
        for w in given
    )


# -- What a space's memories name -----------------------------------------------------


@dataclass
class Candidate:
    """One name found in a space's memories: its display name, the kind each finding
    gave it (with scores and evidence) and where it stands in each memory."""

    name: str
    judgements: list[Judged] = field(default_factory=list)
    # memory id -> (start, end), the first place the memory names it
    mentions: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    def verdict(self) -> Judged:
        """The kind most of the evidence says, with its best score and its reasons.

        "other" only when nothing says more; a tie goes to the kind with the strongest
        single finding."""
        totals: dict[str, float] = {}
        for judged in self.judgements:
            if judged.kind != OTHER:
                totals[judged.kind] = totals.get(judged.kind, 0.0) + judged.score
        if totals:
            kind = max(
                totals,
                key=lambda k: (
                    totals[k],
                    max(j.score for j in self.judgements if j.kind == k),
                ),
            )
        else:
            kind = OTHER
        chosen = [j for j in self.judgements if j.kind == kind]
        reasons = list(
            dict.fromkeys(
                reason
                for judged in sorted(chosen, key=lambda j: -j.score)
                for reason in judged.evidence.split("; ")
            )
        )
        return Judged(kind, max(j.score for j in chosen), "; ".join(reasons[:5]))


@dataclass
class Known:
    """What the space says about names: never persons (its agents' names, its tokens'
    names) and persons already (its person entities, its memories' subjects)."""

    never_people: dict[str, str]  # normalised name -> why
    people: dict[str, str]  # normalised name -> display name
    aliases: dict[str, str]  # normalised first name -> the one person's display name
    pattern: re.Pattern[str] | None
    # The never-persons' names as written (case matters: "planner" the agent, not
    # "a planner"), found wherever they stand, even opening a sentence.
    never_pattern: re.Pattern[str] | None = None


def _known(space: Space, targets: list[Memory]) -> Known:
    never: dict[str, str] = {}
    agents = Memory.objects.for_space(space).exclude(agent="").values_list("agent", flat=True)
    for agent in agents.distinct():
        never[agent] = "agent field"
    for token in ApiToken.objects.filter(space=space).values_list("name", flat=True):
        never.setdefault(token, "an API token's name")
    people = dict(
        Entity.objects.for_space(space)
        .filter(kind=Kind.PERSON)
        .values_list("normalized_name", "name")
    )
    return known_names(never, people, targets)


def known_names(never: dict[str, str], people: dict[str, str], targets: list[Memory]) -> Known:
    """The space's knowledge of names (no database: the benchmark builds its own) plus
    the subjects of `targets` that look like people. `never` maps names as written (an
    agent's, a token's) to why they are never a person's; `people` normalised names of
    people to their display names."""
    written = [name for name in never if len(name) > 1 and name.strip()]
    never_pattern = (
        re.compile(
            r"\b(?:" + "|".join(map(re.escape, sorted(written, key=len, reverse=True))) + r")\b"
        )
        if written
        else None
    )
    never = {Entity.normalize(name): why for name, why in never.items()}
    never = {**{name: "an assistant's name" for name in gazetteer.ASSISTANTS}, **never}
    people = people | {
        Entity.normalize(m.subject): m.subject
        for m in targets
        if m.subject and looks_like_a_person(m.subject)
    }
    people = {
        normalized: name
        for normalized, name in people.items()
        if normalized not in never and normalized not in gazetteer.ROLES
    }
    aliases = _first_names(people)
    return Known(never, people, aliases, _any_name(set(people) | set(aliases)), never_pattern)


def candidates(known: Known, targets: list[Memory]) -> dict[str, Candidate]:
    """The names these memories mention, by normalised name, each judged."""
    found: dict[str, Candidate] = {}

    def add(memory: Memory, name: str, start: int | None, end: int | None, judged: Judged):
        normalized = Entity.normalize(name)
        if not normalized or normalized in gazetteer.ROLES or normalized in NOT_NAMES:
            return
        if normalized in known.aliases:
            name = known.aliases[normalized]
            normalized = Entity.normalize(name)
            judged = Judged(PERSON, 0.85, "first name of a known person")
        if normalized in known.never_people and judged.kind in (PERSON, OTHER):
            why = known.never_people[normalized]
            judged = Judged(OTHER, 0.5, f"{why}: never a person")
        candidate = found.setdefault(normalized, Candidate(name))
        candidate.judgements.append(judged)
        candidate.mentions.setdefault(str(memory.pk), (start, end))
        candidate.versions[str(memory.pk)] = memory.version

    for memory in targets:
        for name, start, end, judged in _in_text(known, memory.content):
            add(memory, name, start, end, judged)
        if memory.subject:
            if looks_like_a_person(memory.subject):
                add(memory, memory.subject, None, None, Judged(PERSON, 0.9, "subject field"))
            else:
                judged = judge(memory.subject, 0, len(memory.subject), memory.subject)
                judged = Judged(judged.kind, judged.score, f"subject field; {judged.evidence}")
                add(memory, memory.subject, None, None, judged)
        if memory.agent:
            add(memory, memory.agent, None, None, Judged(OTHER, 0.5, "agent field"))
    return found


def _in_text(known: Known, text: str) -> list[tuple[str, int, int, Judged]]:
    """The names in a text: those the space knows (people, never-persons) wherever they
    stand, and the spans `_spans` finds. Where two overlap the longer wins ("Maya
    Lopes" over the known "Maya"), and the known one on a tie."""
    found: list[tuple[str, int, int, Judged]] = []
    if known.pattern is not None:
        found += [
            (m.group(0), m.start(), m.end(), Judged(PERSON, 0.9, "known person"))
            for m in known.pattern.finditer(text)
        ]
    if known.never_pattern is not None:
        found += [
            (m.group(0), m.start(), m.end(), Judged(OTHER, 0.5, "never a person"))
            for m in known.never_pattern.finditer(text)
        ]
    known_count = len(found)
    found += _spans(text)
    order = sorted(
        range(len(found)),
        key=lambda i: (found[i][1] - found[i][2], i >= known_count, found[i][1]),
    )
    kept: list[tuple[str, int, int, Judged]] = []
    taken: list[tuple[int, int]] = []
    for i in order:
        _, start, end, judged = found[i]
        if judged.kind != TOPIC and any(start < e and s < end for s, e in taken):
            continue
        kept.append(found[i])
        if judged.kind != TOPIC:
            taken.append((start, end))
    return sorted(kept, key=lambda f: f[1])


def _unmentioned(space: Space) -> list[Memory]:
    mentioned = Mention.objects.for_space(space).filter(memory=OuterRef("pk"))
    return list(
        Memory.objects.for_space(space)
        .active()
        .filter(~Exists(mentioned))
        .only("pk", "content", "subject", "agent", "version")
    )


def extract(space: Space, actor: Actor, memories: Iterable[Memory] | None = None) -> int:
    """Record at once, without review, the mentions of the active memories that have
    none yet (or of `memories`); returns how many were made. For a caller that decided
    already (an import, a test's fixture): consolidation proposes them instead.

    People (the subject field, when it looks like a name) are also found wherever their
    name appears in a text, even opening a sentence, where a capital alone would say
    nothing; so is a person's first name alone ("Maya" for Maya Okafor) when no other
    person shares it.
    """
    targets = list(memories) if memories is not None else _unmentioned(space)
    spans: list[NamedSpan] = []
    for candidate in candidates(_known(space, targets), targets).values():
        kind = candidate.verdict().kind
        spans += [
            NamedSpan(memory, candidate.name, kind, start=start, end=end)
            for memory, (start, end) in candidate.mentions.items()
        ]
    return record_mentions(space, actor, spans)


# -- Proposals -------------------------------------------------------------------------


def fingerprint(name: str, kind: str) -> str:
    """One proposal per (name, kind) in a space, whatever memories mention it, so that a
    rejected one is never proposed again and new mentions join a pending one."""
    key = f"{Operation.ENTITY}:{kind}:{Entity.normalize(name)}"
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Proposed:
    """What a run did with the names it found: the pending proposals it made or added
    mentions to, and how many mentions of entities already reviewed it recorded."""

    proposals: list[Proposal] = field(default_factory=list)
    recorded: int = 0


def propose_entities(space: Space, actor: Actor) -> Proposed:
    """Propose the names the active memories without mentions name, one proposal per
    (name, kind): `change` = {"name", "kind", "mentions": [{"memory", "start", "end"}]},
    `evidence` = {"reasons": [...], "memories": n}, `score` = how sure the kind is.

    A name that is an entity already (reviewed, or made by a person) has its new
    mentions recorded at once, unless the entity is "other" and the evidence now says
    more: that is proposed, for a person to see. New mentions of a name proposed and
    pending join its proposal; one rejected, undone, retired or stale is left alone.
    """
    from apps.consolidation.services.proposals import propose

    targets = _unmentioned(space)
    found = candidates(_known(space, targets), targets)
    if not found:
        return Proposed()
    by_name: dict[str, dict[str, Entity]] = {}
    for known in Entity.objects.for_space(space).filter(normalized_name__in=list(found)):
        by_name.setdefault(known.normalized_name, {})[known.kind] = known
    verdicts = {normalized: c.verdict() for normalized, c in found.items()}
    prints = {fingerprint(found[n].name, v.kind): n for n, v in verdicts.items()}
    proposals = {
        p.fingerprint: p
        for p in Proposal.objects.for_space(space).filter(
            operation=Operation.ENTITY, fingerprint__in=list(prints)
        )
    }
    direct: list[NamedSpan] = []
    result = Proposed()
    for normalized, candidate in found.items():
        verdict = verdicts[normalized]
        existing = by_name.get(normalized, {})
        entity = existing.get(PERSON) or existing.get(verdict.kind)
        if entity is None and existing and verdict.kind == OTHER:
            entity = next(iter(existing.values()))  # it knows better than "other"
        if entity is not None:
            direct += [
                NamedSpan(memory, entity.name, entity.kind, start=start, end=end)
                for memory, (start, end) in candidate.mentions.items()
            ]
            continue
        print_ = fingerprint(candidate.name, verdict.kind)
        proposal = proposals.get(print_)
        if proposal is None:
            made = propose(
                space,
                Operation.ENTITY,
                list(candidate.mentions),
                [candidate.versions[m] for m in candidate.mentions],
                change={
                    "name": candidate.name,
                    "kind": verdict.kind,
                    "mentions": _mentions(candidate.mentions),
                },
                evidence={
                    "reasons": verdict.evidence.split("; "),
                    "memories": len(candidate.mentions),
                },
                score=round(verdict.score, 3),
                fingerprint=print_,
            )
            if made is not None:
                result.proposals.append(made)
        elif proposal.status == Proposal.Status.PENDING and _extend(proposal, candidate, verdict):
            result.proposals.append(proposal)
    result.recorded = record_mentions(space, actor, direct)
    return result


def _mentions(mentions: dict[str, tuple[int | None, int | None]]) -> list[dict[str, Any]]:
    return [{"memory": m, "start": start, "end": end} for m, (start, end) in mentions.items()]


def _extend(proposal: Proposal, candidate: Candidate, verdict: Judged) -> bool:
    """Add the candidate's new memories to a pending proposal; False if none are new."""
    have = {str(pk) for pk in proposal.memory_ids}
    new = {m: span for m, span in candidate.mentions.items() if m not in have}
    if not new:
        return False
    proposal.memory_ids = [*proposal.memory_ids, *new]
    proposal.memory_versions = [*proposal.memory_versions, *(candidate.versions[m] for m in new)]
    proposal.change = {
        **proposal.change,
        "mentions": [*proposal.change.get("mentions", []), *_mentions(new)],
    }
    reasons = proposal.evidence.get("reasons", [])
    proposal.evidence = {
        "reasons": list(dict.fromkeys([*reasons, *verdict.evidence.split("; ")]))[:8],
        "memories": len(proposal.memory_ids),
    }
    proposal.score = max(proposal.score, round(verdict.score, 3))
    proposal.save(update_fields=["memory_ids", "memory_versions", "change", "evidence", "score"])
    return True


def apply_proposal(proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Record a reviewed entity proposal's mentions (in the memories still there): the
    proposal's result says which entity they went to, whether it was made for them
    and which memories' mentions are new, which is what `undo_proposal` takes back."""
    change = proposal.change
    alive = {
        str(pk)
        for pk in Memory.objects.for_space(proposal.space_id)
        .filter(pk__in=[m["memory"] for m in change["mentions"]])
        .values_list("pk", flat=True)
    }
    spans = [
        NamedSpan(m["memory"], change["name"], change["kind"], start=m["start"], end=m["end"])
        for m in change["mentions"]
        if m["memory"] in alive
    ]
    recorded = record_entity(proposal.space, actor, spans, action="entities.apply")
    return {
        "entity": str(recorded.entity_id) if recorded.entity_id else None,
        "kind": recorded.kind,
        "created_entity": recorded.created,
        "mentions": recorded.memory_ids,
    }


def undo_proposal(proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Take back what applying the proposal recorded: its mentions, and its entity when
    the proposal made it and nothing else mentions it now."""
    result = proposal.result
    if not result.get("entity"):
        return {"mentions": 0, "entity_removed": False}
    return forget_mentions(
        proposal.space,
        actor,
        result["entity"],
        result.get("mentions", []),
        remove_entity=bool(result.get("created_entity")),
        reason=f"undo of consolidation proposal {proposal.pk}",
    )


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
