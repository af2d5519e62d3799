"""Words that say how a statement stands in time: that something changed, that an
event happened again, that a fact is a habit or a one-off, that it is negated.

General English, not learned from any data set: each list names a way of saying it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _phrases(*words: str) -> re.Pattern[str]:
    body = "|".join(sorted((w.replace(" ", r"\s+") for w in words), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


# The newer statement says the earlier one no longer holds: a change in time, a
# correction, a plan dropped or moved.
CHANGE = _phrases(
    # now versus then
    "now", "nowadays", "these days", "currently", "from now on", "no longer", "not anymore",
    "anymore", "any more", "no more", "used to", "any longer", "since then",
    # a correction
    "actually", "in fact", "correction", "corrected", "misheard", "misremembered", "mistaken",
    "was wrong", "turns out", "turned out",
    # a change of place, job, state or number
    "moved", "moves", "has moved", "relocated", "switched", "changed", "swapped",
    "replaced", "turned", "went up", "gone up", "rose", "went down", "gone down", "fell",
    # (not "started", "took up" or "joined": taking something up adds a fact unless
    # it says what it replaces, with "new", "now", "instead" or "switched")
    "new", "became", "become", "stopped", "quit", "gave up", "given up", "resigned",
    "retired",
    "promoted", "demoted", "hired", "transferred", "raised", "increased", "lowered",
    "reduced", "decreased", "cut", "cut out", "dropped", "upgraded", "downgraded",
    "remortgaged", "renewed", "renamed", "sold", "got engaged", "got married", "divorced",
    "separated", "graduated", "passed", "diagnosed", "recovered", "died", "passed away",
    # a plan moved or dropped
    "rescheduled", "postponed", "pushed", "pushed back", "put off", "put back",
    "brought forward", "moved up", "delayed", "reschedule", "postpone", "push", "delay",
    "cancel", "call off", "bring forward",
    "cancelled", "canceled", "called off", "is off", "was off", "dropped out", "pulled out",
    "decided against", "decided not", "no plans", "not going", "won't be",
)  # fmt: skip
# Of those, the words that move a plan or drop it: the only changes an event to come
# (a flight, a wedding, a trip) can undergo; "new" or "cut" says nothing about a date.
RESCHEDULE = frozenset(
    ("moved", "moves", "has moved", "rescheduled", "postponed", "pushed", "pushed back",
     "put off", "put back", "brought forward", "moved up", "delayed", "reschedule",
     "postpone", "push", "delay", "bring forward", "changed", "switched", "now", "instead",
     "actually", "in fact", "correction", "corrected", "misheard", "mistaken", "was wrong")
)  # fmt: skip
CANCEL = frozenset(
    ("cancel", "cancelled", "canceled", "call off", "called off", "is off", "was off",
     "dropped out", "pulled out", "decided against", "decided not", "no plans", "not going",
     "won't be", "no longer", "gave up", "given up")
)  # fmt: skip
# "Instead" at the end of a change ("takes the tram instead"), not "X instead of Y",
# which states a preference; "left" a job or a named place, not a left hand.
CHANGE_IN_CONTEXT = re.compile(
    r"(?<![\w-])instead(?!\s+of\b)(?![\w-])"
    r"|(?<![\w-])left\s+(?:(?:the|her|his|their|my|our|its)\s+)?"
    r"(?:[A-Z\u00c0-\u00dd]|(?:job|company|firm|team|school|band|club|university|college|"
    r"country|city|town|partner|husband|wife|boyfriend|girlfriend)\b)"
)
# An event that happened once more: a series, not a change.
REPEAT = _phrases(
    "again", "another", "once more", "second", "third", "fourth", "next", "following",
    "went back", "came back", "back from", "flew back", "return", "returned", "follow-up",
    "follow up",
)  # fmt: skip
# One more fact besides another ("doesn't have a licence either"): not a restatement.
ADDITIVE = _phrases(
    "also", "as well", "too", "either", "another", "besides", "in addition", "as well as",
)  # fmt: skip
# A one-off ("this week") is an exception to a habit, not a new habit.
ONE_OFF = _phrases(
    "this week", "this time", "today", "tonight", "this once", "just once", "for once",
    "this weekend", "this morning", "this evening", "yesterday",
)  # fmt: skip
HABIT = _phrases(
    "every", "each", "usually", "always", "regularly", "normally", "daily", "weekly",
    "monthly", "yearly", "annually", "most days", "most weekends", "most evenings",
    "most mornings", "habit", "routine",
)  # fmt: skip
NEGATION = _phrases(
    "not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "without",
    "cannot", "can't", "won't", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't",
    "weren't", "hasn't", "haven't", "hadn't", "shouldn't", "wouldn't", "couldn't",
    "can\u2019t", "won\u2019t", "don\u2019t", "doesn\u2019t", "didn\u2019t", "isn\u2019t",
    "hasn\u2019t", "haven\u2019t",
)  # fmt: skip
# What happened (a past event) rather than how things are or what is planned.
_IRREGULAR_PAST = (
    "went", "had", "saw", "took", "ran", "sat", "bought", "flew", "made", "got", "came",
    "met", "ate", "drank", "gave", "wrote", "spent", "did", "won", "lost", "paid",
    "found", "felt", "left", "told", "heard", "held", "kept", "read", "rode", "sang",
    "swam", "threw", "wore", "brought", "caught", "taught", "thought", "sent", "slept",
)  # fmt: skip
PAST = re.compile(
    rf"(?<![\w-])(?:{'|'.join(_IRREGULAR_PAST)}|[a-z]{{2,}}ed)(?![\w-])", re.IGNORECASE
)
# A statement about the future: a plan, a booking, a date to come.
PLAN = _phrases(
    "will", "is going to", "are going to", "plans", "planning", "plan", "scheduled",
    "is due", "booked", "is on", "are on", "is at", "is flying", "is travelling",
    "is traveling", "is moving", "is visiting", "is getting", "upcoming", "next",
)  # fmt: skip


@dataclass(frozen=True)
class Cue:
    kind: str  # change, repeat, additive, one_off, habit, negation
    text: str
    start: int
    end: int

    def as_evidence(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text, "span": [self.start, self.end]}


def cues_in(text: str) -> list[Cue]:
    found = []
    for kind, pattern in (
        ("change", CHANGE),
        ("repeat", REPEAT),
        ("additive", ADDITIVE),
        ("one_off", ONE_OFF),
        ("habit", HABIT),
        ("negation", NEGATION),
    ):
        found += [Cue(kind, m.group(0), m.start(), m.end()) for m in pattern.finditer(text)]
    found += [
        Cue("change", m.group(0), m.start(), m.end()) for m in CHANGE_IN_CONTEXT.finditer(text)
    ]
    return sorted(found, key=lambda cue: cue.start)


# "From September", "since 1 May": the day a new state starts. Not "since" after a
# perfect ("has been learning since 2020"), which says how long a state has lasted,
# nor "from 8 to 11 April", a span.
START = re.compile(r"(?<![\w-])(?:since|from|as\s+of|starting|effective)\s+(?:the\s+)?$", re.I)
_PERFECT = re.compile(r"(?<![\w-])(?:has|have|had|'s\s+been|\u2019s\s+been)(?![\w-])", re.I)
_SPAN = re.compile(r"^\s*(?:to|until|till|through|-|\u2013)\s", re.I)


def starts_at(text: str, start: int, end: int) -> bool:
    """Whether the value at [start, end) says when a new state starts."""
    before = text[:start]
    cue = START.search(before)
    if not cue or _SPAN.match(text[end:]):
        return False
    return not (cue.group(0).casefold().startswith("since") and _PERFECT.search(before))


def is_plan(text: str) -> bool:
    """Told as something to come: a booking, a date, an intention."""
    return bool(PLAN.search(text))


def is_past_event(text: str) -> bool:
    """Told as something that happened, not as a plan or a standing fact."""
    return bool(PAST.search(text)) and not PLAN.search(text)
