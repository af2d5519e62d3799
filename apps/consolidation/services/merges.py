"""Near-duplicates: memories that say the same thing, proposed as one merge.

The judgement of each pair lives in apps.consolidation.judging: same subject, same
kind, nothing in conflict (no value of a slot that differs, no word saying it changed)
and close in meaning. A group is proposed only when every pair in it is a merge.
"""

from dataclasses import dataclass
from typing import Any

from apps.consolidation.judging import Verdict
from apps.consolidation.judging.candidates import judge_pairs, judge_space
from apps.consolidation.judging.second_opinion import configured_check
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.proposals import Recheck, normalized, propose
from apps.spaces.models import Space


@dataclass
class DuplicateGroup:
    members: list[str]
    versions: list[int]
    longest: str  # the most complete text of the group
    evidence: dict[str, Any]
    score: float


def _group(members: list[str], verdicts: list[Verdict], versions: dict[str, int]) -> DuplicateGroup:
    statements = {v.older.id: v.older for v in verdicts} | {v.newer.id: v.newer for v in verdicts}
    members = sorted(members)
    similarities = [v.evidence.get("similarity", v.score) for v in verdicts] or [1.0]
    evidence = {
        "similarities": [
            {
                "a": min(v.older.id, v.newer.id),
                "b": max(v.older.id, v.newer.id),
                "similarity": v.evidence.get("similarity", v.score),
                "reason": v.reason,
                "shared_words": v.evidence.get("shared_words", []),
            }
            for v in sorted(verdicts, key=lambda v: (min(v.older.id, v.newer.id), v.newer.id))
        ],
        "same_text": len({normalized(statements[m].content) for m in members}) == 1,
        "subject": statements[members[0]].subject,
        "kind": statements[members[0]].kind,
        "times": {m: statements[m].when.isoformat() for m in members},
    }
    opinions = {v.evidence["second_opinion"] for v in verdicts if "second_opinion" in v.evidence}
    if opinions:
        evidence["second_opinion"] = opinions.pop() if len(opinions) == 1 else "mixed"
    # Keep the most complete text; of equals, the newest.
    longest = max(members, key=lambda m: (len(statements[m].content), statements[m].when))
    return DuplicateGroup(
        members,
        [versions[m] for m in members],
        statements[longest].content,
        evidence,
        round(sum(similarities) / len(similarities), 4),
    )


def duplicate_groups(space: Space) -> list[DuplicateGroup]:
    """Groups of active memories that say the same thing, with their evidence."""
    judged = judge_space(space, configured_check())
    groups = []
    for verdicts in judged.decisions.merges:
        members = sorted({v.older.id for v in verdicts} | {v.newer.id for v in verdicts})
        groups.append(_group(members, verdicts, judged.versions))
    return sorted(groups, key=lambda group: group.members)


def propose_merges(space: Space) -> list[Proposal]:
    made = []
    for group in duplicate_groups(space):
        proposal = propose(
            space,
            Operation.MERGE,
            group.members,
            group.versions,
            {"content": group.longest},
            group.evidence,
            score=group.score,
        )
        if proposal:
            made.append(proposal)
    return made


def recheck(space: Space, proposal: Proposal) -> Recheck:
    """The merge judged again on its memories' current versions: it holds while every
    pair of them still says the same thing."""
    members = [str(pk) for pk in proposal.memory_ids]
    judged = judge_pairs(space, members, configured_check())
    if isinstance(judged, str):
        return Recheck(False, dict(proposal.change), dict(proposal.evidence), 0.0, judged)
    verdicts = list(judged.verdicts.values())
    group = _group(members, verdicts, judged.versions)
    change = {"content": group.longest}
    failing = [v for v in verdicts if v.op != "merge"]
    if failing:
        return Recheck(False, change, group.evidence, 0.0, _why_not(failing[0]))
    return Recheck(True, change, group.evidence, group.score, "they still say the same thing")


def _why_not(verdict: Verdict) -> str:
    if verdict.op == "supersede":
        return "the newer memory now replaces the older one rather than repeating it"
    return f"they no longer say the same thing: {verdict.reason}"
