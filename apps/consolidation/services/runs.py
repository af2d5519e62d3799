"""A consolidation run: the operations in order, then what the space's policy
applies without review."""

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from apps.consolidation import entities
from apps.consolidation.models import Operation, Proposal
from apps.consolidation.services.decisions import apply
from apps.consolidation.services.forgetting import propose_forgetting
from apps.consolidation.services.links import propose_links
from apps.consolidation.services.merges import propose_merges
from apps.consolidation.services.proposals import JOB_ACTOR, ProposalError, Report
from apps.consolidation.services.recheck import recheck_stale
from apps.consolidation.services.summaries import propose_summaries
from apps.consolidation.services.supersessions import propose_supersessions
from apps.spaces.models import Space

# Supersessions before links: a pair proposed for a supersession gets no link proposal.
OPERATIONS: dict[str, Callable[[Space], list[Proposal]]] = {
    Operation.MERGE.value: propose_merges,
    Operation.SUPERSEDE.value: propose_supersessions,
    Operation.LINK.value: propose_links,
    Operation.SUMMARY.value: propose_summaries,
    Operation.ARCHIVE.value: propose_forgetting,
}
ENTITIES = "entities"
ALL_OPERATIONS = [*OPERATIONS, ENTITIES]


def consolidate(
    space: Space, only: Iterable[str] | None = None, dry_run: bool = False, recheck: bool = True
) -> Report:
    """Re-check the proposals whose memories changed (unless `recheck` is False: the job
    does it once, not per operation), run the operations (all, or `only`), then apply
    what the space's policy allows.

    With `dry_run` nothing is stored: the report counts what would be proposed.
    """
    report = Report()
    if recheck and not dry_run:
        # First, so that the operations see the queue as it now stands: a proposal
        # retired here may be proposed anew in its changed form by this run.
        report.rechecked = recheck_stale(space)
    chosen = list(only or ALL_OPERATIONS)
    for operation in chosen:
        if operation == ENTITIES:
            # One proposal per (name, kind), reviewed unless the space auto-applies
            # "entity"; new mentions of an entity already reviewed are recorded at once.
            with transaction.atomic():
                found = entities.propose_entities(space, JOB_ACTOR)
                transaction.set_rollback(dry_run)
            report.proposed[ENTITIES] = len(found.proposals)
            if not dry_run and Operation.ENTITY in auto_applied(space):
                report.applied[ENTITIES] = _apply_what_still_holds(found.proposals)
            continue
        if dry_run:
            with transaction.atomic():
                report.proposed[operation] = len(OPERATIONS[operation](space))
                transaction.set_rollback(True)
            continue
        made = OPERATIONS[operation](space)
        report.proposed[operation] = len(made)
        if operation in auto_applied(space):
            report.applied[operation] = _apply_what_still_holds(made)
    return report


def _apply_what_still_holds(proposals: list[Proposal]) -> int:
    """Apply `proposals` as the job; one gone stale by now is left for a person to look
    at. Returns how many were applied."""
    applied = 0
    for proposal in proposals:
        try:
            apply(proposal, JOB_ACTOR)
        except ProposalError:
            continue
        applied += 1
    return applied


def auto_applied(space: Space) -> set[str]:
    """The operations this space applies without review (its settings' "auto_apply")."""
    return set(space.setting("consolidation", "auto_apply"))


def start_consolidation(space: Space, only: list[str] | None = None) -> Any:
    """Create a consolidation job and queue it once the transaction commits."""
    from apps.consolidation.tasks import consolidate_space
    from apps.jobs.models import Job

    job = Job.objects.create(kind="consolidate", space=space, params={"only": only or []})
    transaction.on_commit(lambda: consolidate_space.delay(job.pk))
    return job
