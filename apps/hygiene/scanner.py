"""The memory hygiene scanner: finds secrets, personal data and prompt injection in a
memory's text, with the exact span of each, and redacts them.

    scan(text) -> [Finding(category, type, start, end, detector, confidence), ...]
    redact(text, findings) -> text with each span replaced by [REDACTED:type]

Detectors live in apps/hygiene/detectors/; docs/hygiene.md says what each one flags
and what it leaves alone. Bump SCANNER_VERSION whenever a detector's verdicts change,
so that stored findings can be told apart from a newer scanner's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from apps.hygiene.detectors.injection import find_injections
from apps.hygiene.detectors.pii import find_pii
from apps.hygiene.detectors.secrets import find_secrets
from apps.hygiene.findings import CATEGORIES, Category, Finding

__all__ = [
    "CATEGORIES",
    "SCANNER_VERSION",
    "Category",
    "Finding",
    "Span",
    "redact",
    "scan",
    "union_of_spans",
]

SCANNER_VERSION = "2"

# When two findings of one category overlap, the merged span keeps the type of the
# more specific detector: a vendor format beats a generic "token = value" assignment,
# a checksum-verified number beats a phone-shaped digit run.
_SPECIFICITY = {
    "private_key_block": 1.0,
    "putty_key": 1.0,
    "vendor_format": 0.99,
    "detect_secrets.jwt": 0.97,
    "detect_secrets.basic_auth": 0.9,
    "bearer_token": 0.8,
    "basic_auth": 0.8,
    "secret_assignment": 0.75,
    "prose_password": 0.7,
    "login_pair": 0.7,
    "iban_mod97": 0.99,
    "luhn": 0.97,
    "national_id_format": 0.9,
    "ssn_format": 0.9,
    "ssn_named": 0.9,
    "passport_named": 0.9,
    "national_id_named": 0.85,
    "email": 0.95,
    "public_ip": 0.8,
    "birth_date": 0.85,
    "street_address": 0.7,
    "phonenumbers": 0.6,
    "tag_characters": 1.0,
    "zero_width": 0.95,
    "html_comment": 0.9,
    "hidden_element": 0.9,
    "markdown_image": 0.95,
    "markdown_link": 0.85,
    "html_image": 0.9,
    "slotted_url": 0.8,
    "tool_markup": 0.9,
    "foreign_phrase": 0.85,
    "override_phrase": 0.85,
    "role_phrase": 0.8,
    "tool_phrase": 0.75,
    "exfiltration_phrase": 0.75,
    "trigger_phrase": 0.7,
    "self_addressed": 0.7,
    "trigger_fraud": 0.7,
    "secrecy_phrase": 0.7,
}


def scan(text: str) -> list[Finding]:
    """Every finding in `text`, sorted by start; overlapping findings of one category are
    merged into one span. Personal data inside a secret (digits of a key read as a phone
    number) is dropped: the secret finding covers it."""
    if not text:
        return []
    secrets = _merge(_rated(find_secrets(text)))
    pii = [f for f in _merge(_rated(find_pii(text))) if not _inside_any(f, secrets)]
    injections = _merge(_rated(find_injections(text)))
    return sorted([*secrets, *pii, *injections], key=lambda f: (f.start, f.end, f.category))


class Span(Protocol):
    """Anything with a code-point span and a type: a Finding, a stored Flag."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def type(self) -> str: ...


def union_of_spans(spans: Iterable[Span]) -> list[tuple[int, int, str]]:
    """The spans as (start, end, type), sorted, overlapping ones joined into one that
    keeps the type of the span starting first (the longest of those that start
    together). Redaction replaces each joined span once."""
    joined: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if joined and span.start < joined[-1][1]:
            start, end, kind = joined[-1]
            joined[-1] = (start, max(end, span.end), kind)
        else:
            joined.append((span.start, span.end, span.type))
    return joined


def redact(text: str, findings: Iterable[Span]) -> str:
    """`text` with each finding's span replaced by [REDACTED:type]; overlapping spans
    (of different categories) are replaced once, as their union."""
    parts: list[str] = []
    cursor = 0
    for start, end, kind in union_of_spans(findings):
        parts.append(text[cursor:start])
        parts.append(f"[REDACTED:{kind}]")
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def _rated(findings: list[Finding]) -> list[Finding]:
    return [
        Finding(
            f.category,
            f.type,
            f.start,
            f.end,
            f.detector,
            _SPECIFICITY.get(f.detector, f.confidence),
        )
        for f in findings
        if f.end > f.start
    ]


def _merge(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            best = last if last.confidence >= finding.confidence else finding
            merged[-1] = Finding(
                last.category,
                best.type,
                last.start,
                max(last.end, finding.end),
                best.detector,
                best.confidence,
            )
        else:
            merged.append(finding)
    return merged


def _inside_any(finding: Finding, others: list[Finding]) -> bool:
    return any(o.start <= finding.start and finding.end <= o.end for o in others)
