"""The values a statement gives (numbers, dates, times, amounts, names) and the words
it is made of, each with where it stands in the text so a card can highlight it."""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip
_MONTH_ABBREVIATIONS = {month[:3]: number for number, month in enumerate(MONTHS, 1)}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
            "eighteen", "nineteen", "twenty",
        ]
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
     "ninety": 90, "hundred": 100, "dozen": 12, "once": 1, "twice": 2, "thrice": 3,
     "single": 1, "double": 2, "half": 0.5}  # fmt: skip
# Parts of the day: "every morning" and "every night" are two habits, not one.
DAYPARTS = {
    "morning": "morning", "noon": "noon", "midday": "noon", "lunchtime": "noon",
    "afternoon": "afternoon", "evening": "evening", "night": "night", "tonight": "night",
    "midnight": "night", "overnight": "night",
}  # fmt: skip

_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
_MONTH = rf"(?P<month>{_MONTH_NAME})"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
DATE = re.compile(
    rf"\b(?:{_DAY}(?:\s*[-\u2013]\s*[0-3]?\d(?:st|nd|rd|th)?)?(?:\s+of)?\s+{_MONTH}"
    rf"|(?P<month2>{_MONTH_NAME})\s+(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?\b"
    rf"|\bthe\s+(?P<day3>[0-3]?\d)(?:st|nd|rd|th)\b(?:\s+of\s+(?P<month3>{_MONTH_NAME}))?)",
    re.IGNORECASE,
)
TIME = re.compile(
    r"\b(?P<hour>[0-2]?\d)(?:[:.](?P<minute>[0-5]\d))?\s*(?P<half>a\.?m\.?|p\.?m\.?)(?=\W|$)"
    r"|\b(?P<hour2>[0-2]?\d)[:.](?P<minute2>[0-5]\d)\b",
    re.IGNORECASE,
)
PHONE = re.compile(r"\+\d[\d ()-]{6,}\d")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
MONEY = re.compile(
    r"(?P<pre>(?:[A-Z]{2})?[$€£¥₹]|\b(?:EUR|USD|GBP|NZD|AUD|CAD|CHF|JPY|INR)\s?)?"
    r"(?P<number>\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?P<post>\s?(?:EUR|USD|GBP|NZD|AUD|CAD|CHF|JPY|INR|euros?|dollars?|pounds?)\b|%)?"
)
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
# Whole numbers only: the digits inside a name or code ("w12", "B2") are not values.
NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")

STOPWORDS = set(
    """a an the and or but if of to in on at by for from with without into onto over under
    about as is are was were be been being am has have had having do does did doing will
    would shall should can could may might must i me my mine we us our you your he him
    his she her hers it its they them their theirs this that these those there here who
    whom which what when where why how all any both each every some such no nor not only
    own same so than too very just also s t don't doesn't didn't isn't aren't wasn't
    weren't hasn't haven't won't can't couldn't shouldn't wouldn't n't up out off again
    further then once more most other another per via one's oneself whose while until
    since because through during before after above below between against among let lets
    get gets got really quite rather usually always often sometimes still yet already
    ever new now""".split()  # noqa: SIM905
)


# Proper nouns, with the particles inside a name ("Praia da Joaquina", "Bank of
# England"); a capital at a sentence start says nothing by itself.
_CAPITAL = "[A-ZÀ-Ý][\\w'\u2019-]*"
_PARTICLE = r"(?:of|the|de|da|do|das|dos|del|della|di|du|van|von|der|den|ter)\s+"
PROPER = re.compile(rf"\b{_CAPITAL}(?:\s+(?:{_PARTICLE})?{_CAPITAL})*")
_POSSESSIVE = re.compile("['\u2019]s?$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\u2014\u2013]\s+|\n)\W*$")
NOT_NAMES = set(
    [
        "i",
        "i'm",
        "i've",
        "i'll",
        "i'd",
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "it",
        "we",
        "they",
        "you",
        "my",
        "our",
        "his",
        "her",
        "their",
        "your",
        "and",
        "but",
        "or",
        "so",
        "if",
        "when",
        "then",
        "yes",
        "no",
        "ok",
    ]
)


def proper_nouns(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of the proper nouns in `text`, without a possessive."""
    found = []
    for match in PROPER.finditer(text):
        name, start = match.group(0), match.start()
        if _SENTENCE_START.search(text[:start]):
            first, _, rest = name.partition(" ")
            if not rest:
                continue
            name, start = rest.lstrip(), start + len(first) + 1
        owner = _POSSESSIVE.sub("", name)
        if owner.casefold() in NOT_NAMES or len(owner) < 2:
            continue
        found.append((owner, start, start + len(owner)))
    return found


@dataclass(frozen=True)
class Value:
    """One value of a statement: what kind it is, its text, a comparable form and
    where it stands ([start, end) in characters)."""

    kind: str  # number, amount, percent, date, weekday, month, year, time, daypart,
    # phone, email or name
    text: str
    norm: str
    start: int
    end: int

    def as_evidence(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text, "span": [self.start, self.end]}


def _number(text: str) -> str:
    value = float(text.replace(",", ""))
    return str(int(value)) if value == int(value) else str(value)


def _month(text: str) -> int:
    return _MONTH_ABBREVIATIONS[text[:3].casefold()]


def values_in(text: str, ignore_names: set[str] = frozenset()) -> list[Value]:  # type: ignore[assignment]
    """The values `text` gives, left to right, none overlapping another.

    `ignore_names`: names that say whom the statement is about rather than what it
    says about them (the subject's own names), casefolded.
    """
    found: list[Value] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, start: int, end: int, norm: str) -> None:
        if free(start, end):
            found.append(Value(kind, text[start:end], norm, start, end))
            taken.append((start, end))

    for match in EMAIL.finditer(text):
        add("email", match.start(), match.end(), match.group(0).casefold())
    for match in PHONE.finditer(text):
        add("phone", match.start(), match.end(), re.sub(r"\D", "", match.group(0)))
    for match in DATE.finditer(text):
        day = match.group("day") or match.group("day2") or match.group("day3")
        month_text = match.group("month") or match.group("month2") or match.group("month3")
        if month_text and month_text.casefold() == "may" and not day:
            continue
        month = _month(month_text) if month_text else 0
        add("date", match.start(), match.end(), f"{int(day)}/{month or '?'}")
    for match in TIME.finditer(text):
        hour = int(match.group("hour") or match.group("hour2"))
        minute = int(match.group("minute") or match.group("minute2") or 0)
        half = (match.group("half") or "").casefold()
        if half.startswith("p") and hour < 12:
            hour += 12
        if hour > 24:
            continue
        add("time", match.start(), match.end(), f"{hour:02d}:{minute:02d}")
    for match in YEAR.finditer(text):
        add("year", match.start(), match.end(), match.group(0))
    for match in MONEY.finditer(text):
        if not (match.group("pre") or match.group("post")):
            continue
        if match.group("post") == "%":
            add("percent", match.start(), match.end(), _number(match.group("number")))
        else:
            add("amount", match.start(), match.end(), _number(match.group("number")))
    for match in NUMBER.finditer(text):
        add("number", match.start(), match.end(), _number(match.group(0)))
    for match in WORD.finditer(text):
        word = match.group(0).casefold()
        first = word.split("-")[0]
        if "-" in word and first in NUMBER_WORDS and first not in ("once", "single", "half"):
            # An age or a size in one word: "a nine-year-old cat", "a two-bedroom flat".
            end = match.start() + len(first)
            add("number", match.start(), end, _number(str(NUMBER_WORDS[first])))
        elif word in NUMBER_WORDS and word not in ("once", "single", "double", "half"):
            add("number", match.start(), match.end(), _number(str(NUMBER_WORDS[word])))
        elif word in WEEKDAYS or (word.endswith("s") and word[:-1] in WEEKDAYS):
            add("weekday", match.start(), match.end(), word.rstrip("s"))
        elif word in DAYPARTS or (word.endswith("s") and word[:-1] in DAYPARTS):
            add("daypart", match.start(), match.end(), DAYPARTS[word.removesuffix("s")])
        elif word in MONTHS[:4] + MONTHS[5:]:  # "may" alone is a verb far more often
            add("month", match.start(), match.end(), str(_month(word)))
    for name, start, end in proper_nouns(text):
        words = name.casefold().split()
        if any(word in ignore_names for word in words):
            continue
        add("name", start, end, name.casefold())
    found.sort(key=lambda value: value.start)
    return found


def stem(word: str) -> str:
    """A crude English stem: enough to see "cycles" and "cycling" as one word."""
    word = word.casefold().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    stripped = False
    for suffix in ("ingly", "edly", "ings", "ing", "ied", "ies", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if suffix in ("ied", "ies"):
                word += "y"
            stripped = True
            break
    if len(word) > (3 if stripped else 4) and word[-1] == word[-2] and word[-1] not in "aeiouslz":
        word = word[:-1]  # "stopp(ed)" -> "stop", "runn(ing)" -> "run"
    return word.rstrip("e") if len(word) > 4 else word


def content_words(text: str, values: list[Value], ignore: set[str]) -> dict[str, tuple[int, int]]:
    """The stems of the words that carry meaning, outside the values, with a span each."""
    inside = [(v.start, v.end) for v in values]
    words: dict[str, tuple[int, int]] = {}
    for match in WORD.finditer(text):
        if any(s <= match.start() < e for s, e in inside):
            continue
        word = match.group(0).casefold().replace("\u2019", "'")
        base = word[:-2] if word.endswith("'s") else word
        if base in STOPWORDS or base in ignore or len(base) < 2:
            continue
        words.setdefault(stem(base), (match.start(), match.end()))
    return words
