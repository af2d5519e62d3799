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
from apps.consolidation.services.summaries import propose_summaries
from apps.consolidation.services.supersessions import propose_supersessions
from apps.spaces.models import Space

OPERATIONS: dict[str, Callable[[Space], list[Proposal]]] = {
    Operation.MERGE.value: propose_merges,
    Operation.LINK.value: propose_links,
    Operation.SUPERSEDE.value: propose_supersessions,
    Operation.SUMMARY.value: propose_summaries,
    Operation.ARCHIVE.value: propose_forgetting,
}
ENTITIES = "entities"
ALL_OPERATIONS = [*OPERATIONS, ENTITIES]


def consolidate(space: Space, only: Iterable[str] | None = None, dry_run: bool = False) -> Report:
    """Run the operations (all, or `only`), then apply what the space's policy allows.

    With `dry_run` nothing is stored: the report counts what would be proposed.
    """
    report = Report()
    chosen = list(only or ALL_OPERATIONS)
    for operation in chosen:
        if operation == ENTITIES:
            # Entities and mentions change no memory: they are written, not proposed.
            with transaction.atomic():
                found = entities.extract(space, JOB_ACTOR)
                transaction.set_rollback(dry_run)
            report.proposed[ENTITIES] = found
            if not dry_run:
                report.applied[ENTITIES] = found
            continue
        if dry_run:
            with transaction.atomic():
                report.proposed[operation] = len(OPERATIONS[operation](space))
                transaction.set_rollback(True)
            continue
        made = OPERATIONS[operation](space)
        report.proposed[operation] = len(made)
        if operation in auto_applied(space):
            applied = 0
            for proposal in made:
                try:
                    apply(proposal, JOB_ACTOR)
                    applied += 1
                except ProposalError:
                    continue  # stale by now: left for a person to look at
            report.applied[operation] = applied
    return report


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
