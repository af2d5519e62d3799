"""A space's hygiene policy, applied to every text written into it.

For each category of finding the space chooses an action (apps.spaces.preferences
SCHEMA "hygiene"): `allow` stores the text as it is, `flag` stores it with a Flag per
finding, `redact` stores it with each span replaced by [REDACTED:type], `reject`
refuses the write with ContentRefused (the categories and types, never the text).

`screen` scans a text once and says what to store; the services in
apps.memories.services call it on every write (create, batch, edit, episodes,
import), so the REST API, MCP, the importer and the dashboard all get the same policy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.hygiene.findings import CATEGORIES, Category
from apps.hygiene.models import Flag
from apps.hygiene.scanner import SCANNER_VERSION, Finding, redact, scan, union_of_spans
from apps.memories.models import Episode, Memory, content_hash
from apps.memories.services.errors import ContentRefused
from apps.spaces.models import Space

Policy = dict[Category, str]

ALLOW, FLAG, REDACT, REJECT = "allow", "flag", "redact", "reject"


def policy_of(space: Space) -> Policy:
    """The action for each category: the space's settings, or the defaults."""
    return {category: space.setting("hygiene", category) for category in CATEGORIES}


def flagged_categories(policy: Policy) -> set[Category]:
    """The categories a scan of stored content flags: every one not allowed (stored
    content is never rewritten, so redact and reject flag it too)."""
    return {category for category, action in policy.items() if action != ALLOW}


@dataclass(frozen=True)
class Screened:
    """What to store for one text: `text` (redacted if the policy says so) and the
    findings to flag, with offsets into `text`."""

    text: str
    flagged: list[Finding] = field(default_factory=list)
    redacted: list[Finding] = field(default_factory=list)

    def audit_summary(self) -> dict[str, Any]:
        """The types redacted and flagged, for the write's audit event (no spans)."""
        hygiene = {
            name: sorted({f.type for f in findings})
            for name, findings in (("redacted", self.redacted), ("flagged", self.flagged))
            if findings
        }
        return {"hygiene": hygiene} if hygiene else {}


def screen(policy: Policy, text: str) -> Screened:
    """Scan `text` once and apply `policy`; raises ContentRefused for a rejected finding."""
    if all(action == ALLOW for action in policy.values()):
        return Screened(text)
    findings = [f for f in scan(text) if policy[f.category] != ALLOW]
    refused = [f for f in findings if policy[f.category] == REJECT]
    if refused:
        raise refusal(refused)
    to_flag = [f for f in findings if policy[f.category] == FLAG]
    to_redact = [f for f in findings if policy[f.category] == REDACT]
    if not to_redact:
        return Screened(text, to_flag)
    return Screened(redact(text, to_redact), _after_redaction(to_flag, to_redact), to_redact)


def refusal(findings: Sequence[Finding]) -> ContentRefused:
    found = sorted({(f.category, f.type) for f in findings})
    named = ", ".join(f"{category} ({kind})" for category, kind in found)
    return ContentRefused(
        f"the space's hygiene policy refuses this content: it holds {named}",
        details={"findings": [{"category": c, "type": t} for c, t in found]},
    )


def _after_redaction(flagged: list[Finding], redacted: list[Finding]) -> list[Finding]:
    """`flagged` with offsets moved to the redacted text; a finding overlapping a
    redacted span is gone with it."""
    spans = union_of_spans(redacted)
    moved = []
    for finding in flagged:
        if any(start < finding.end and finding.start < end for start, end, _ in spans):
            continue
        shift = sum(
            len(f"[REDACTED:{kind}]") - (end - start)
            for start, end, kind in spans
            if end <= finding.start
        )
        moved.append(
            Finding(
                finding.category,
                finding.type,
                finding.start + shift,
                finding.end + shift,
                finding.detector,
                finding.confidence,
            )
        )
    return moved


def span_digest(finding: Finding, text: str) -> str:
    """A keyed digest of the finding's span: tells two findings of the same span apart
    from others without keeping the span (a plain hash of a phone number could be
    reversed by trying them all)."""
    message = f"{finding.category}\0{finding.type}\0{text[finding.start : finding.end]}"
    return hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def flag_rows(
    space: Space,
    findings: Iterable[Finding],
    text: str,
    *,
    memory: Memory | None = None,
    episode: Episode | None = None,
    dismissed: frozenset[tuple[str, str, str]] = frozenset(),
) -> list[Flag]:
    """New open flags for `findings` in `text`, but none for a finding a curator
    already dismissed (same category, type and span digest)."""
    findings = list(findings)
    if not findings:
        return []
    digest_of_text = content_hash(text)
    now = timezone.now()
    rows = []
    for finding in findings:
        row = Flag(
            space=space,
            memory=memory,
            episode=episode,
            category=finding.category,
            type=finding.type,
            start=finding.start,
            end=finding.end,
            detector=finding.detector[:64],
            scanner_version=SCANNER_VERSION,
            content_hash=digest_of_text,
            span_digest=span_digest(finding, text),
            created_at=now,
        )
        if row.key not in dismissed:
            rows.append(row)
    return rows


def replace_memory_flags(space: Space, memory: Memory, findings: Iterable[Finding]) -> list[Flag]:
    """Make the memory's open flags those of `findings` on its current text: the old
    open flags go, dismissed ones stay dismissed."""
    flags = Flag.objects.for_space(space).filter(memory=memory)
    dismissed = frozenset(f.key for f in flags.filter(status=Flag.Status.DISMISSED))
    flags.open().delete()
    rows = flag_rows(space, findings, memory.content, memory=memory, dismissed=dismissed)
    Flag.objects.for_space(space).bulk_create(rows)
    return rows
