"""The scan job's work: flag what is already stored, by the space's current policy
and the current scanner. It only adds and removes flags; stored text is never
rewritten (redacting stored content is its own service).

Started after a policy change (the API's PATCH /spaces, the admin), by the Flags
page's "Scan now" and by beat for spaces never scanned by this SCANNER_VERSION.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from apps.core.bulk import copy_insert
from apps.hygiene.findings import Category
from apps.hygiene.models import Flag
from apps.hygiene.policy import flag_rows, flagged_categories, policy_of
from apps.hygiene.scanner import SCANNER_VERSION, Finding, scan
from apps.jobs.models import Job
from apps.memories.models import Episode, Memory
from apps.spaces.models import Space

JOB_KIND = "hygiene_scan"
# Rows read (and flags written) per round trip.
BATCH_SIZE = 1000


def start_scan(space: Space, reason: str) -> Job:
    """Create a scan job for `space` and queue it once the transaction commits; a
    scan already waiting to start is reused."""
    from apps.hygiene.tasks import scan_space

    waiting = (
        Job.objects.for_space(space)
        .filter(kind=JOB_KIND, status=Job.Status.QUEUED, params__scanner_version=SCANNER_VERSION)
        .first()
    )
    if waiting is not None:
        return waiting
    job = Job.objects.create(
        kind=JOB_KIND,
        space=space,
        params={"scanner_version": SCANNER_VERSION, "reason": reason},
    )
    transaction.on_commit(lambda: scan_space.delay(job.pk))
    return job


def scan_needed(space: Space) -> bool:
    """No scan by this SCANNER_VERSION has finished or is under way in `space`."""
    return (
        not Job.objects.for_space(space)
        .filter(kind=JOB_KIND, params__scanner_version=SCANNER_VERSION)
        .exclude(status=Job.Status.FAILED)
        .exists()
    )


def policy_changed(before: Any, space: Space) -> bool:
    """Whether saving `space` changed its hygiene policy (stored settings `before`)."""
    from apps.spaces.preferences import setting

    return any(
        setting(before, "hygiene", name) != space.setting("hygiene", name)
        for name in ("secret", "pii", "injection")
    )


def scan_stored(space: Space, progress: Callable[[int, int], None]) -> dict[str, int]:
    """Flag every memory and episode of `space`; `progress(rows, flags_added)` after
    each batch. Idempotent: a finding already flagged (or dismissed) is left as it is."""
    categories = flagged_categories(policy_of(space))
    counts = {"scanned": 0, "flagged": 0, "unflagged": 0}
    for model, link in ((Memory, "memory"), (Episode, "episode")):
        last: object = None
        while True:
            rows = model.objects.for_space(space).order_by("pk").only("pk", "content")
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows[:BATCH_SIZE])
            if not batch:
                break
            added, removed = _flag_batch(space, categories, link, batch)
            counts["scanned"] += len(batch)
            counts["flagged"] += added
            counts["unflagged"] += removed
            progress(len(batch), added)
            last = batch[-1].pk
    return counts


def _flag_batch(
    space: Space, categories: set[Category], link: str, batch: list[models.Model]
) -> tuple[int, int]:
    existing: dict[object, list[Flag]] = defaultdict(list)
    for flag in (
        Flag.objects.for_space(space)
        .filter(**{f"{link}_id__in": [row.pk for row in batch]})
        .exclude(status=Flag.Status.RESOLVED)
        .only("pk", "category", "type", "span_digest", "start", "end", "status", f"{link}_id")
    ):
        existing[getattr(flag, f"{link}_id")].append(flag)
    to_insert: list[Flag] = []
    to_delete: list[int] = []
    for row in batch:
        text: str = row.content  # type: ignore[attr-defined]
        findings = [f for f in scan(text) if f.category in categories] if categories else []
        flags = existing.get(row.pk, [])
        dismissed = frozenset(f.key for f in flags if f.status == Flag.Status.DISMISSED)
        open_flags = {_place(f): f for f in flags if f.status == Flag.Status.OPEN}
        fresh = _flags_of(space, row, findings, dismissed)
        wanted = {_place(f) for f in fresh}
        to_insert += [f for f in fresh if _place(f) not in open_flags]
        to_delete += [f.pk for place, f in open_flags.items() if place not in wanted]
    if to_delete:
        Flag.objects.for_space(space).filter(pk__in=to_delete).delete()
    copy_insert(to_insert)
    return len(to_insert), len(to_delete)


def _flags_of(
    space: Space, row: models.Model, findings: list[Finding], dismissed: frozenset[Any]
) -> list[Flag]:
    """New flags for the findings in a memory's or an episode's content."""
    return flag_rows(
        space,
        findings,
        row.content,  # type: ignore[attr-defined]
        memory=row if isinstance(row, Memory) else None,
        episode=row if isinstance(row, Episode) else None,
        dismissed=dismissed,
    )


def _place(flag: Flag) -> tuple[str, str, str, int, int]:
    return (*flag.key, flag.start, flag.end)


def reflag_after_redaction(
    space: Space, resolver: str, memory_ids: list[Any], episode_ids: list[Any]
) -> int:
    """Bring the flags of texts a redaction just rewrote up to date: a finding the
    redaction took away is resolved (by `resolver`), one that is still there moves to
    its new offsets, and dismissed ones stay dismissed. Returns the flags resolved."""
    categories = flagged_categories(policy_of(space))
    resolved = 0
    for model, link, ids in ((Memory, "memory", memory_ids), (Episode, "episode", episode_ids)):
        rows = list(model.objects.for_space(space).filter(pk__in=ids).only("pk", "content"))
        flags: dict[object, list[Flag]] = defaultdict(list)
        for flag in Flag.objects.for_space(space).filter(
            **{f"{link}_id__in": ids}, status__in=[Flag.Status.OPEN, Flag.Status.DISMISSED]
        ):
            flags[getattr(flag, f"{link}_id")].append(flag)
        fresh: list[Flag] = []
        gone: list[int] = []
        moved: list[int] = []
        for row in rows:
            text: str = row.content  # type: ignore[attr-defined]
            known = flags.get(row.pk, [])
            # A flag raised under an earlier policy stays if its finding does: whether
            # the redaction took it away is the question here, not the policy.
            wanted = categories | {flag.category for flag in known}
            findings = [f for f in scan(text) if f.category in wanted] if wanted else []
            dismissed = frozenset(f.key for f in known if f.status == Flag.Status.DISMISSED)
            found = _flags_of(space, row, findings, dismissed)
            still = {f.key for f in found}
            for flag in known:
                if flag.status == Flag.Status.OPEN:
                    (moved if flag.key in still else gone).append(flag.pk)
            fresh += found
        scoped = Flag.objects.for_space(space)
        scoped.filter(pk__in=moved).delete()
        resolved += scoped.filter(pk__in=gone).update(
            status=Flag.Status.RESOLVED, resolved_at=timezone.now(), resolved_by=resolver[:200]
        )
        copy_insert(fresh)
    return resolved
