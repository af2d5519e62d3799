"""Consolidation ("sleep time"): find what should change, propose it, apply what a
person approves or the space's policy allows, always through the domain layer.

Each operation lives in its own module (merges, supersessions, links, summaries,
forgetting); `runs` puts them in order and `decisions` applies or rejects what they
propose. Every operation is idempotent: a change already proposed, in any state, is not
proposed again.
"""

from apps.consolidation.services.decisions import (
    apply,
    forget_proposals_about,
    reject,
    scrub_proposals,
)
from apps.consolidation.services.forgetting import propose_forgetting
from apps.consolidation.services.links import propose_links
from apps.consolidation.services.merges import DuplicateGroup, duplicate_groups, propose_merges
from apps.consolidation.services.proposals import JOB_ACTOR, ProposalError, Report
from apps.consolidation.services.runs import (
    ALL_OPERATIONS,
    ENTITIES,
    OPERATIONS,
    auto_applied,
    consolidate,
    start_consolidation,
)
from apps.consolidation.services.summaries import propose_summaries
from apps.consolidation.services.supersessions import differing_values, propose_supersessions
from apps.consolidation.services.undo import (
    UndoConflict,
    changes_since_apply,
    proposals_changing,
    undo,
)

__all__ = [
    "ALL_OPERATIONS",
    "ENTITIES",
    "JOB_ACTOR",
    "OPERATIONS",
    "DuplicateGroup",
    "ProposalError",
    "Report",
    "UndoConflict",
    "apply",
    "auto_applied",
    "changes_since_apply",
    "consolidate",
    "differing_values",
    "duplicate_groups",
    "forget_proposals_about",
    "proposals_changing",
    "propose_forgetting",
    "propose_links",
    "propose_merges",
    "propose_summaries",
    "propose_supersessions",
    "reject",
    "scrub_proposals",
    "start_consolidation",
    "undo",
]
