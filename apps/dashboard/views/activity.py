"""What happened in a space and what is running there: the audit log and the jobs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_http_methods

from apps.api.errors import ApiError
from apps.api.pagination import decode_cursor, encode_cursor
from apps.audit.models import AuditEvent
from apps.core.params import parse_instant, parse_int
from apps.dashboard.access import Curator, HtmxHttpRequest, space_page
from apps.dashboard.forms import AuditFilterForm
from apps.dashboard.queueing import queue_job
from apps.dashboard.services import BULK_EVENT, BULK_UNDO_EVENT, BULK_UNDO_TARGET
from apps.jobs.models import Job, JobQuerySet
from apps.memories.models import Entity, Episode, Memory
from apps.retrieval.tasks import start_reembed
from apps.spaces.models import Role

AUDIT_PAGE = 50
RECENT_JOBS = 30
TARGET_TYPES = ["memory", "episode", "link", "token", "space"]
# A target is named by its first words: enough to recognise a memory in a list.
TARGET_WORDS = 10
TARGET_CHARS = 120
# ------------------------------------------------------------------ audit log


def _purged_memories(curator: Curator, rows: list[AuditEvent]) -> set[str]:
    """Which of the memories these events name have since been purged: their pages are gone."""
    named = {event.target_id for event in rows if event.target_type == "memory"}
    if not named:
        return set()
    purges = AuditEvent.objects.for_space(curator.space).filter(
        action="memory.purge", target_type="memory", target_id__in=named
    )
    return set(purges.values_list("target_id", flat=True))


def _target_link(curator: Curator, event: AuditEvent, purged: set[str]) -> tuple[str, str]:
    """(url, note) for an event's target; the url is "" where there is nothing to open."""
    slug = curator.space.slug
    kind, target = event.target_type, event.target_id
    if kind == "memory" and target in purged:
        return "", "purged"
    try:
        if kind == "memory":
            return reverse("dashboard:memory", args=[slug, target]), ""
        if kind == "episode":
            return reverse("dashboard:episode", args=[slug, target]), ""
        if kind == "link" and event.summary.get("source"):
            return reverse("dashboard:memory", args=[slug, event.summary["source"]]), ""
    except NoReverseMatch:
        return "", ""  # not an id this dashboard can open
    if kind == "token" and curator.is_admin:
        return reverse("dashboard:tokens", args=[slug]) + f"#token-{target}", ""
    if kind == "space":
        return reverse("dashboard:browse", args=[slug]), ""
    return "", ""


def _uuids(values: set[str]) -> list[UUID]:
    found = []
    for value in values:
        try:
            found.append(UUID(value))
        except (ValueError, TypeError):
            continue  # not an id a row could have
    return found


def _first_words(text: str) -> str:
    return Truncator(" ".join(text.split())).words(TARGET_WORDS, truncate="…")


def _target_texts(curator: Curator, rows: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """What each event's target is, in words: a memory's or an episode's first words,
    an entity's name; by (target_type, target_id). One query per kind of target."""
    wanted: dict[str, set[str]] = {"memory": set(), "episode": set(), "entity": set()}
    for event in rows:
        if event.target_type in wanted:
            wanted[event.target_type].add(event.target_id)
        if event.target_type == "link" and event.summary.get("source"):
            wanted["memory"].add(str(event.summary["source"]))
    texts: dict[tuple[str, str], str] = {}
    space = curator.space
    sources = (
        ("memory", Memory.objects.for_space(space), "content"),
        ("episode", Episode.objects.for_space(space), "content"),
        ("entity", Entity.objects.for_space(space), "name"),
    )
    for kind, queryset, column in sources:
        ids = _uuids(wanted[kind])
        if not ids:
            continue
        heads = queryset.filter(pk__in=ids).annotate(head=Left(column, TARGET_CHARS))
        for pk, head in heads.values_list("pk", "head"):
            texts[(kind, str(pk))] = _first_words(head)
    return texts


def _target_text(event: AuditEvent, texts: dict[tuple[str, str], str]) -> str:
    kind, target = event.target_type, event.target_id
    if (kind, target) in texts:
        return f"“{texts[kind, target]}”" if kind != "entity" else texts[kind, target]
    summary = event.summary if isinstance(event.summary, dict) else {}
    if kind == "link" and (("memory", str(summary.get("source"))) in texts):
        return f"link from “{texts['memory', str(summary['source'])]}”"
    if kind == "token" and summary.get("name"):
        return f"token {summary['name']}"
    if kind == "proposal" and summary.get("operation"):
        return f"proposal {target} ({summary['operation']})"
    if kind == BULK_UNDO_TARGET:
        return "a bulk action"
    if event.action == BULK_EVENT:
        count = summary.get("count", 0)
        return f"{count} memor{'y' if count == 1 else 'ies'}"
    if kind == "space":
        return "the space"
    if kind == "memory":
        return "a memory no longer here"
    return f"{kind} {target}"


def _undone_bulk_actions(curator: Curator, rows: list[AuditEvent]) -> set[str]:
    """Which of these bulk actions' events an undo has answered already."""
    bulk = [str(event.pk) for event in rows if event.action == BULK_EVENT]
    if not bulk:
        return set()
    undos = AuditEvent.objects.for_space(curator.space).filter(
        action=BULK_UNDO_EVENT, target_type=BULK_UNDO_TARGET, target_id__in=bulk
    )
    return set(undos.values_list("target_id", flat=True))


def _brief(event: AuditEvent) -> str:
    """The summary in a line: which fields changed, what was searched, and a few facts."""
    summary = event.summary if isinstance(event.summary, dict) else {}
    if event.action in (BULK_EVENT, BULK_UNDO_EVENT):
        return _bulk_brief(event, summary)
    parts: list[str] = []
    changed = summary.get("changed")
    if isinstance(changed, dict) and changed:
        parts.append("changed " + ", ".join(sorted(changed)))
    elif isinstance(changed, list) and changed:
        parts.append("changed " + ", ".join(str(name) for name in changed))
    if summary.get("query"):
        query = str(summary["query"])
        query = query if len(query) <= 80 else query[:79] + "…"
        mode = f" ({summary['mode']})" if summary.get("mode") else ""
        parts.append(f"“{query}”{mode}")
    if summary.get("rank"):
        parts.append(f"rank {summary['rank']}")
    for key in ("name", "kind", "status", "session", "type", "model", "count", "version"):
        value = summary.get(key)
        if value not in (None, "", [], {}) and not isinstance(value, dict | list):
            parts.append(f"{key} {value}")
    if isinstance(summary.get("scopes"), list):
        parts.append("scopes " + ", ".join(map(str, summary["scopes"])))
    return " · ".join(parts)


def _bulk_brief(event: AuditEvent, summary: dict[str, Any]) -> str:
    action, count = str(summary.get("action", "")), summary.get("count", 0)
    memories = f"{count} memor{'y' if count == 1 else 'ies'}"
    if event.action == BULK_UNDO_EVENT:
        skipped = summary.get("skipped", 0)
        left = f", {skipped} left as they were changed since" if skipped else ""
        return f"undid a bulk {action} for {memories}{left}"
    tag = f" “{summary['tag']}”" if action in ("tag", "untag") and summary.get("tag") else ""
    return f"bulk {action}{tag} of {memories}"


def _audit_page(
    request: HttpRequest, events: QuerySet[AuditEvent]
) -> tuple[list[AuditEvent], str | None, bool]:
    listing = events.order_by("-created_at", "-pk")
    paged = False
    cursor = request.GET.get("cursor", "")
    if cursor:
        try:
            raw_time, raw_pk = decode_cursor(cursor)
            moment = parse_instant(str(raw_time), "cursor")
            pk = parse_int(raw_pk, "cursor", minimum=1, maximum=2**63 - 1)
            listing = listing.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
            paged = True
        except (ApiError, ValidationError, ValueError, TypeError):
            pass  # a mangled link starts over at the newest event
    rows = list(listing[: AUDIT_PAGE + 1])
    next_query = None
    if len(rows) > AUDIT_PAGE:
        rows = rows[:AUDIT_PAGE]
        params = request.GET.copy()
        params["cursor"] = encode_cursor(rows[-1].created_at, rows[-1].pk)
        next_query = params.urlencode()
    return rows, next_query, paged


@require_GET
@space_page()
def audit(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.for_space(curator.space)
    rows: list[AuditEvent] = []
    next_query = None
    paged = False
    if form.is_valid():
        shown = form.apply(events, viewer=curator.actor.label)
        rows, next_query, paged = _audit_page(request, shown)
    purged = _purged_memories(curator, rows)
    texts = _target_texts(curator, rows)
    undone = _undone_bulk_actions(curator, rows)
    for event in rows:
        event.target_url, event.target_note = _target_link(curator, event, purged)  # type: ignore[attr-defined]
        event.target_text = _target_text(event, texts)  # type: ignore[attr-defined]
        event.brief = _brief(event)  # type: ignore[attr-defined]
        # A bulk action's Undo stays here after its message is gone, until used.
        event.undoable = (  # type: ignore[attr-defined]
            event.action == BULK_EVENT and str(event.pk) not in undone and curator.can_edit
        )
    context = {
        "nav": "audit",
        "form": form,
        "rows": rows,
        "next_query": next_query,
        "filtering": form.is_filtering(),
        # The index on (space, action) serves this; the list feeds the action suggestions.
        "known_actions": events.order_by("action").values_list("action", flat=True).distinct(),
        "target_types": TARGET_TYPES,
        "here": request.get_full_path(),
    }
    if request.htmx and paged:
        return render(request, "dashboard/audit.html#rows", context)
    return render(request, "dashboard/audit.html", context)


# ------------------------------------------------------------------ jobs


def _space_jobs(curator: Curator) -> JobQuerySet:
    return Job.objects.for_space(curator.space)


@require_http_methods(["GET", "POST"])
@space_page()
def jobs(request: HttpRequest, curator: Curator) -> HttpResponse:
    if request.method == "POST":
        return _start_reembed(request, curator)
    # ?status=failed (or any job status) narrows both lists: the space home links here.
    status = request.GET.get("status", "")
    shown = _space_jobs(curator)
    if status in Job.Status.values:
        shown = shown.filter(status=status)
    else:
        status = ""
    running = list(shown.running().order_by("-created_at", "-pk"))
    recent = list(
        shown.exclude(pk__in=[job.pk for job in running]).order_by("-created_at", "-pk")[
            :RECENT_JOBS
        ]
    )
    return render(
        request,
        "dashboard/jobs.html",
        {
            "nav": "jobs",
            "running": running,
            "recent": recent,
            "recent_limit": RECENT_JOBS,
            "status": status,
            "status_label": Job.Status(status).label if status else "",
        },
    )


def _start_reembed(request: HttpRequest, curator: Curator) -> HttpResponse:
    if not curator.can_edit:
        raise PermissionDenied(f"Starting a re-embed needs the {Role.EDITOR} role.")
    back = reverse("dashboard:jobs", args=[curator.space.slug])
    job = queue_job(request, lambda: start_reembed(curator.space), "re-embed")
    if job is None:
        return redirect(back)
    messages.success(
        request,
        f"Re-embedding of {curator.space.name} is queued (job {job.pk}); progress shows below.",
    )
    return redirect(back)


@require_GET
@space_page()
def job(request: HtmxHttpRequest, curator: Curator, job_id: int) -> HttpResponse:
    found = _space_jobs(curator).filter(pk=job_id).first()
    if found is None:
        raise Http404("No such job in this space")
    context = {"nav": "jobs", "job": found, "jobs": [found]}
    if request.htmx:
        return render(request, "dashboard/jobs.html#job_row", context)
    return render(request, "dashboard/job.html", context)
