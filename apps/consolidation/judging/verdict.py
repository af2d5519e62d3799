"""The judgement of one pair of memories: the same thing said twice (merge), a later
statement replacing an earlier one (supersede), or neither.

It reasons about slots and values, not about wording: whose statement it is (the
subject, or a relative the text is really about), what kind of statement, the values
each gives (numbers, dates, times, amounts, places and other names), the words around
them, and the cue words that mark a change ("now", "moved", "no longer", "actually").
The embedding similarity says how close the two are in topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from apps.consolidation.judging.cues import (
    CANCEL,
    RESCHEDULE,
    Cue,
    cues_in,
    is_past_event,
    is_plan,
    starts_at,
)
from apps.consolidation.judging.values import Value, content_words, values_in

MERGE = "merge"
SUPERSEDE = "supersede"

# Similarity at which two statements with nothing in conflict are one statement.
MERGE_SIMILARITY = 0.72
# When the two differ only by one word each way ("loves sushi" / "loves ramen"), that
# word is a value of the slot, not a rewording, unless they are nearly identical.
SWAP_MERGE_SIMILARITY = 0.85
# Words of its own that make a statement tell more than a restatement would.
_MORE_WORDS = 3
_MEASURES = ("number", "amount", "percent")
_ONLY = re.compile(r"(?<![\w-])(?:only|just|exclusively)(?![\w-])", re.IGNORECASE)
# Close enough in topic for a change cue in the newer one to be about the older one.
CHANGE_SIMILARITY = 0.5
NAMED_SIMILARITY = 0.4
# Close enough, with the same frame and a different value, for no cue to be needed.
VALUE_SIMILARITY = 0.7
FRAME_OVERLAP = 0.5
# Kinds whose statements say how things are, and so can be replaced; an episode only
# when it is a plan (an event to come) and the newer one says it moved or was dropped.
STANDING_KINDS = ("fact", "preference", "procedural")
EPISODE = "episodic"

# People a statement can be about instead of its subject: "Priya's son Arav ...".
RELATIONS = (
    "wife", "husband", "partner", "spouse", "fiancé", "fiancée", "fiance", "fiancee",
    "boyfriend", "girlfriend", "son", "daughter", "child", "children", "kid", "kids",
    "baby", "mother", "mum", "mom", "father", "dad", "parent", "parents", "brother",
    "sister", "sibling", "twin", "grandmother", "grandfather", "grandma", "grandpa",
    "granny", "nan", "grandson", "granddaughter", "grandchild", "aunt", "uncle", "cousin",
    "niece", "nephew", "stepson", "stepdaughter", "stepmother", "stepfather", "friend",
    "colleague", "coworker", "co-worker", "flatmate", "roommate", "housemate", "neighbour",
    "neighbor",
)  # fmt: skip
_RELATED = re.compile(
    r"^\s*(?P<owner>[A-ZÀ-Ý][\w-]*(?:\s+[A-ZÀ-Ý][\w-]*)*)['\u2019]s\s+"
    r"(?:(?:[a-z-]+)\s+){0,2}?(?P<relation>" + "|".join(RELATIONS) + r")\b"
    r"(?:['\u2019]s)?(?:,?\s+(?P<name>[A-ZÀ-Ý][\w-]+))?"
)
# A statement headed by what it is about: "Maya's knee plan: ...", not a time ("9:30").
_LABEL = re.compile(r"^\s*(?P<label>[^:\d]{2,60}):\s")
_LEADING_WORD = re.compile(r"^\s*(?P<word>[A-ZÀ-Ý][\w-]*)")


@dataclass
class Statement:
    """One memory as the judgement sees it."""

    id: str
    content: str
    subject: str
    kind: str
    when: datetime  # when it happened, else when it was recorded
    recorded: datetime
    # Names of people the subject's memories introduce as relatives ("Kavya").
    relatives: frozenset[str] = frozenset()

    @cached_property
    def subject_names(self) -> set[str]:
        return {word.casefold() for word in re.findall(r"[\w-]+", self.subject)}

    @cached_property
    def values(self) -> list[Value]:
        return values_in(self.content, self.subject_names | self.relative_names)

    @cached_property
    def relative_names(self) -> set[str]:
        match = _RELATED.match(self.content)
        names = {name.casefold() for name in self.relatives}
        if match and match.group("name"):
            names.add(match.group("name").casefold())
        return names

    @cached_property
    def words(self) -> dict[str, tuple[int, int]]:
        return content_words(self.content, self.values, self.subject_names)

    @cached_property
    def cues(self) -> list[Cue]:
        return cues_in(self.content)

    def cue_texts(self, kind: str) -> set[str]:
        return {" ".join(c.text.casefold().split()) for c in self.cues if c.kind == kind}

    @cached_property
    def holder(self) -> str:
        """Whom the statement is about: the subject, or a relative it names first."""
        match = _RELATED.match(self.content)
        if match and set(match.group("owner").casefold().split()) & self.subject_names:
            return (match.group("name") or match.group("relation")).casefold()
        leading = _LEADING_WORD.match(self.content)
        if leading and leading.group("word").casefold() in {r.casefold() for r in self.relatives}:
            return leading.group("word").casefold()
        return ""  # the subject

    @cached_property
    def starts(self) -> list[Value]:
        """The dates it says a new state starts on ("from September", "since 1 May")."""
        return [
            v
            for v in self.values
            if v.kind in ("date", "month", "year") and starts_at(self.content, v.start, v.end)
        ]

    @cached_property
    def topic(self) -> set[str]:
        """The words of a label the statement starts with ("Maya's taper: ..."), if any."""
        match = _LABEL.match(self.content)
        if not match:
            return set()
        return set(content_words(match.group("label"), [], self.subject_names))

    def mentions(self, name: str) -> bool:
        return bool(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", self.content, re.IGNORECASE))


def relatives_named(content: str, subject: str) -> set[str]:
    """Names a memory gives the subject's relatives: "Deepak's daughter Kavya" -> Kavya."""
    match = _RELATED.match(content)
    owners = {w.casefold() for w in re.findall(r"[\w-]+", subject)}
    if match and match.group("name") and set(match.group("owner").casefold().split()) & owners:
        return {match.group("name")}
    return set()


@dataclass
class Verdict:
    op: str | None  # "merge", "supersede" or None
    score: float
    reason: str
    older: Statement
    newer: Statement
    evidence: dict[str, Any] = field(default_factory=dict)


def _order(a: Statement, b: Statement) -> tuple[Statement, Statement]:
    return (a, b) if (a.when, a.recorded, a.id) <= (b.when, b.recorded, b.id) else (b, a)


def _month_of(value: Value) -> str:
    if value.kind == "date":
        return value.norm.split("/")[1]
    return value.norm if value.kind == "month" else ""


def _name_words(value: Value) -> set[str]:
    return {w for w in re.split(r"[\s-]+", value.norm) if len(w) > 2}


def _same(x: Value, y: Value) -> bool:
    """Whether two values of one family can be the same: "the 12th" and "12 May",
    "May" and "3 May", "Lyon" and "University of Lyon", "Mexico" and "Mexican"."""
    if x.norm == y.norm:
        return True
    if x.kind == "date" and y.kind == "date":
        dx, mx = x.norm.split("/")
        dy, my = y.norm.split("/")
        return dx == dy and "?" in (mx, my)
    if {x.kind, y.kind} == {"date", "month"}:
        return _month_of(x) == _month_of(y)
    if x.kind == "name" and y.kind == "name":
        return any(
            a.startswith(b[:4])
            or b.startswith(a[:4])
            or (a[:3] == b[:3] and min(len(a), len(b)) <= 5)
            for a in _name_words(x)
            for b in _name_words(y)
        )
    return False


# Values compared with each other: a date, a month, a weekday or a year all say when.
_COMPARABLE = {"amount": "amount", "number": "number", "percent": "percent", "date": "when",
               "weekday": "weekday", "month": "when", "time": "time", "year": "when",
               "daypart": "daypart",
               "phone": "phone", "email": "email", "name": "name"}  # fmt: skip
_NUMERALS = ("number", "year")


def compare_values(older: Statement, newer: Statement) -> dict[str, Any]:
    """Values of one kind that each statement gives and the other does not.

    `conflicts`: kinds where both give a value the other lacks (a different date);
    `added`/`dropped`: values only the newer/older gives (more detail, not a change).
    """
    conflicts: list[dict[str, Any]] = []
    added: list[Value] = []
    dropped: list[Value] = []
    kinds = {_COMPARABLE[v.kind] for v in older.values + newer.values}
    for kind in sorted(kinds):
        before = [v for v in older.values if _COMPARABLE[v.kind] == kind]
        after = [v for v in newer.values if _COMPARABLE[v.kind] == kind]
        only_before = [v for v in before if not any(_same(v, w) for w in after)]
        only_after = [v for v in after if not any(_same(v, w) for w in before)]
        if only_before and only_after:
            conflicts.append(
                {
                    "kind": kind,
                    "before": [v.as_evidence() for v in only_before],
                    "after": [v.as_evidence() for v in only_after],
                }
            )
        else:
            added += only_after
            dropped += only_before
    # Digits in the year range read as a year ("item 1945"); against other digits the
    # other gives in their place ("item 582") they are another number. ("Six years"
    # and "since 2020" can say one thing: only numbers in digits count here.)
    before = [v for v in dropped if v.kind in _NUMERALS and v.text.isdigit()]
    after = [v for v in added if v.kind in _NUMERALS and v.text.isdigit()]
    if before and after:
        conflicts.append(
            {
                "kind": "number",
                "before": [v.as_evidence() for v in before],
                "after": [v.as_evidence() for v in after],
            }
        )
        added = [v for v in added if v not in after]
        dropped = [v for v in dropped if v not in before]
    return {"conflicts": conflicts, "added": added, "dropped": dropped}


# What moving a plan changes: when it is, or where.
_PLAN_SLOTS = ("when", "weekday", "time", "daypart", "name")


def _replaces_plan(
    older: Statement, newer: Statement, change: list[str], conflicts: list[dict[str, Any]]
) -> bool:
    """Whether a later episode replaces an earlier one: only while the earlier is a plan
    (or a plan already moved), and only when the later drops it, or moves it with a
    word that says so and another date, time or place. Anything else told about an
    event, in conversation above all ("now I paint", "a new group"), is another event."""
    planned = is_plan(older.content) or bool(older.cue_texts("change") & (RESCHEDULE | CANCEL))
    if not planned:
        return False
    if set(change) & CANCEL:
        return True
    return bool(set(change) & RESCHEDULE) and any(c["kind"] in _PLAN_SLOTS for c in conflicts)


def judge(a: Statement, b: Statement, similarity: float) -> Verdict:
    """Merge, supersede (older by newer) or nothing, with the reason in plain words."""
    older, newer = _order(a, b)

    def verdict(op: str | None, score: float, reason: str, **evidence: Any) -> Verdict:
        # Scores are read as 0-1 (bulk approve "score at least"), bonuses included.
        return Verdict(op, round(min(max(score, 0.0), 1.0), 4), reason, older, newer, evidence)

    from apps.consolidation.services.proposals import normalized

    subjects = {" ".join(x.subject.casefold().split()) for x in (older, newer)}
    if normalized(older.content) == normalized(newer.content) and (
        len(subjects) == 1 or "" in subjects
    ):
        # The same words: one memory twice (a subject given once is not another one).
        return verdict(MERGE, 1.0, "the same text", similarity=1.0, differs=[], change_cues=[])
    if len(subjects) > 1:
        return verdict(None, 0.0, "they are about different subjects")
    if older.kind != newer.kind:
        return verdict(None, 0.0, "they are different kinds of memory")
    if older.holder != newer.holder:
        # "Priya's son Arav is allergic" is not about Priya, unless the other names Arav.
        other = newer if older.holder else older
        holder = older.holder or newer.holder
        if not (older.holder and newer.holder) and not other.mentions(holder):
            return verdict(None, 0.0, f"one of them is about {holder}, not the subject")
        if older.holder and newer.holder:
            return verdict(None, 0.0, "they are about different people")
    older_topic, newer_topic = older.topic, newer.topic
    if older_topic and newer_topic and not older_topic & newer_topic:
        # "Maya's knee plan: ..." and "Maya's taper: ...": each names what it is about.
        return verdict(None, 0.0, "they name different topics")
    change_cues = newer.cue_texts("change")
    if older.kind in STANDING_KINDS and "again" in newer.cue_texts("repeat"):
        change_cues.add("again")  # "eating meat again": how things are has changed back
    change = sorted(change_cues - older.cue_texts("change") - older.cue_texts("repeat"))
    if (
        not change
        and similarity < min(VALUE_SIMILARITY, MERGE_SIMILARITY)
        and not (older.kind in STANDING_KINDS and newer.starts)
    ):
        # Neither a word of change nor close enough for a value or a rewording: the
        # common case in a large space, decided before reading any values.
        return verdict(None, 0.0, "not close enough in meaning")
    values = compare_values(older, newer)
    conflicts = values["conflicts"]
    repeat = older.cue_texts("repeat") | newer.cue_texts("repeat")
    shared = set(older.words) & set(newer.words)
    only_older = set(older.words) - set(newer.words)
    only_newer = set(newer.words) - set(older.words)
    union = set(older.words) | set(newer.words)
    frame = len(shared) / len(union) if union else 1.0
    negated = (bool(older.cue_texts("negation")), bool(newer.cue_texts("negation")))
    evidence: dict[str, Any] = {
        "similarity": round(similarity, 4),
        "differs": conflicts,
        "change_cues": [
            c.as_evidence()
            for c in newer.cues
            if c.kind in ("change", "repeat") and " ".join(c.text.casefold().split()) in change
        ],
        "shared_words": sorted(shared),
    }
    if older.kind == EPISODE:
        both_past = is_past_event(older.content) and is_past_event(newer.content)
        # Told on different days, two accounts of what happened are two events.
        same_day = abs((newer.when - older.when).total_seconds()) < 24 * 3600
        if both_past and not change and not same_day:
            return verdict(None, 0.0, "two events that each happened", **evidence)
        if repeat and not change:
            return verdict(None, 0.0, "the later event is another of a series", **evidence)
    if change and newer.cue_texts("one_off") and older.cue_texts("habit"):
        return verdict(None, 0.0, "a one-off exception to a habit", **evidence)

    # "Head of science from September": a state that starts on a date the older lacks.
    started = [v for v in newer.starts if v in values["added"]]
    if (
        newer.cue_texts("additive") - older.cue_texts("additive")
        and not conflicts
        # "By phone only" or "no online booking" is what "online as well" undoes.
        and not older.cue_texts("negation")
        and not _ONLY.search(older.content)
    ):
        # "Also writes the wine list now": one more fact, both true.
        return verdict(None, 0.0, "the newer one adds a fact besides the older", **evidence)
    # A later statement that says it changed, or gives another value in the same frame.
    flipped = negated[0] != negated[1] and not only_older and not only_newer and shared
    supersedable = older.kind in STANDING_KINDS or _replaces_plan(older, newer, change, conflicts)
    # A name both give ("the Web Summit") ties a change to its topic even in few words.
    same_name = any(
        _same(x, y)
        for x in older.values
        for y in newer.values
        if x.kind == "name" and y.kind == "name"
    )
    topical = similarity >= CHANGE_SIMILARITY or (same_name and similarity >= NAMED_SIMILARITY)
    if supersedable and topical and change:
        return verdict(
            SUPERSEDE,
            similarity + 0.1 * bool(conflicts),
            "the newer one says it changed: " + ", ".join(change),
            **evidence,
        )
    if (
        started
        and older.kind in STANDING_KINDS
        and topical
        # The same slot (an employer, a home, a role at one place) with another value.
        and (
            any(c["kind"] == "name" for c in conflicts)
            # At the same place, the newer must speak to all the older says: a role
            # from September does not replace "cycles 9 km to the school".
            or (
                same_name
                and similarity >= VALUE_SIMILARITY
                and not any(v.kind in _MEASURES for v in values["dropped"])
            )
        )
    ):
        since = ", ".join(v.text for v in started)
        return verdict(SUPERSEDE, similarity, f"the newer one holds from {since}", **evidence)
    if (
        supersedable
        and older.kind != EPISODE
        and similarity >= VALUE_SIMILARITY
        # A measure (a number, a date, a time) has one value at a time; a name does
        # not: "a sister in Hamburg" and "a sister in Munich" can both be true.
        and (flipped or (conflicts and all(c["kind"] != "name" for c in conflicts)))
        and frame >= FRAME_OVERLAP
        # Another word each way ("design team" / "finance team") is another slot.
        and not (only_older and only_newer)
    ):
        what = ", ".join(c["kind"] for c in conflicts) or "negation"
        return verdict(SUPERSEDE, similarity, f"same statement with a different {what}", **evidence)
    if conflicts:
        return verdict(None, 0.0, "they give different values", **evidence)
    if change:
        return verdict(None, 0.0, "the newer one describes a change", **evidence)
    if similarity < MERGE_SIMILARITY:
        return verdict(None, 0.0, "not close enough in meaning", **evidence)
    if started:
        return verdict(None, 0.0, "the newer one says from when it holds", **evidence)
    # A value only one gives (an age) while the other tells more of its own (an
    # illness): two facts about one thing, not one fact twice.
    lost = [v for v in values["dropped"] if v.kind in _MEASURES]
    gained = [v for v in values["added"] if v.kind in _MEASURES]
    if similarity < SWAP_MERGE_SIMILARITY and (
        (lost and not values["added"] and len(only_newer) >= _MORE_WORDS)
        or (gained and not values["dropped"] and len(only_older) >= _MORE_WORDS)
    ):
        return verdict(None, 0.0, "each says something the other does not", **evidence)
    if older.cue_texts("additive") ^ newer.cue_texts("additive"):
        return verdict(None, 0.0, "one adds a fact besides the other", **evidence)
    if (
        shared
        and len(only_older) == 1
        and len(only_newer) == 1
        and similarity < SWAP_MERGE_SIMILARITY
    ):
        return verdict(None, 0.0, "the same frame with another word in the slot", **evidence)
    return verdict(MERGE, similarity, "they say the same thing", **evidence)
