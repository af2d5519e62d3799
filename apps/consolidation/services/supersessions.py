"""Outdated facts: a later statement about the same subject that replaces an
earlier one.

The judgement of each pair lives in apps.consolidation.judging: the same subject and
kind, and either a word in the newer one that says it changed ("now", "moved", "no
longer", "actually") on the same topic, or the same frame with another value (a
number, a date, a place, a name). Events are replaced only while they are plans.
"""

from typing import Any

from apps.consolidation.judging import Verdict
from apps.consolidation.judging.candidates import judge_pairs, judge_space
from apps.consolidation.judging.second_opinion import configured_check
from apps.consolidation.judging.verdict import Statement, compare_values
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import Recheck, propose
from apps.spaces.models import Space


def differing_values(older: str, newer: str) -> dict[str, Any]:
    """What two statements disagree on: numbers (and dates, times, amounts), negation,
    or the names they mention. Empty when they agree on all three."""
    from django.utils import timezone

    now = timezone.now()
    before = Statement("older", older, "", "fact", now, now)
    after = Statement("newer", newer, "", "fact", now, now)
    found: dict[str, Any] = {}
    conflicts = compare_values(before, after)["conflicts"]
    numbers = [c for c in conflicts if c["kind"] != "name"]
    if numbers:
        found["numbers"] = {
            "before": [v["text"] for c in numbers for v in c["before"]],
            "after": [v["text"] for c in numbers for v in c["after"]],
        }
    negated = bool(before.cue_texts("negation")), bool(after.cue_texts("negation"))
    if negated[0] != negated[1]:
        found["negation"] = {"before": negated[0]}
    names = [c for c in conflicts if c["kind"] == "name"]
    if names:
        found["names"] = {
            "before": sorted(v["text"] for c in names for v in c["before"]),
            "after": sorted(v["text"] for c in names for v in c["after"]),
        }
    return found


def _evidence(verdict: Verdict) -> dict[str, Any]:
    older, newer = verdict.older, verdict.newer
    return {
        **verdict.evidence,
        "reason": verdict.reason,
        "subject": older.subject,
        "kind": older.kind,
        "older": {"id": older.id, "when": older.when.isoformat()},
        "newer": {"id": newer.id, "when": newer.when.isoformat()},
    }


def propose_supersessions(space: Space) -> list[Proposal]:
    """Pairs of active statements where the later one (by when it happened, else when it
    was recorded) replaces the earlier; never a pair proposed for a merge."""
    judged = judge_space(space, configured_check())
    made = []
    for verdict in judged.decisions.supersessions:
        older, newer = verdict.older.id, verdict.newer.id
        proposal = propose(
            space,
            Operation.SUPERSEDE,
            [older, newer],
            [judged.versions[older], judged.versions[newer]],
            {"superseded": older, "by": newer},
            _evidence(verdict),
            score=verdict.score,
        )
        if proposal:
            made.append(proposal)
    return made


def recheck(space: Space, proposal: Proposal) -> Recheck:
    """The supersession judged again on its memories' current versions (the direction
    too, from their times)."""
    members = [str(pk) for pk in proposal.memory_ids]
    judged = judge_pairs(space, members, configured_check())
    if isinstance(judged, str):
        return Recheck(False, dict(proposal.change), dict(proposal.evidence), 0.0, judged)
    (verdict,) = judged.verdicts.values()
    change = {"superseded": verdict.older.id, "by": verdict.newer.id}
    if verdict.op == "supersede":
        return Recheck(True, change, _evidence(verdict), verdict.score, verdict.reason)
    if verdict.op == "merge":
        reason = "the newer memory now says the same as the older one"
    else:
        reason = f"the newer memory no longer replaces the older one: {verdict.reason}"
    return Recheck(False, change, _evidence(verdict), 0.0, reason)
