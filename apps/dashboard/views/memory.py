"""One memory's page: what it says, where it came from, its history, and the
curator's changes to it.

Edits are optimistic: the form carries the version the editor saw, and a stale
edit is shown as a conflict to resolve, never saved over someone else's change.
Every change goes through `apps.memories.services`, so each one is a version
and an audit event. Reading the page is itself recorded in the access log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pgvector import Vector

from apps.audit.models import AuditEvent
from apps.audit.services import record_events
from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.diffing import (
    display_value,
    field_changes,
    metadata_diff,
    render_word_diff,
)
from apps.dashboard.forms import (
    MemoryCreateForm,
    MemoryEditForm,
    MemoryFieldsForm,
    PurgeForm,
    RedactForm,
    RevertForm,
    StatusForm,
    VersionPairForm,
)
from apps.dashboard.subjects import space_subjects
from apps.hygiene.marks import marked_text, open_flags_by_memory
from apps.memories import services
from apps.memories.models import Episode, Link, LinkType, Memory, MemoryVersion, Status
from apps.retrieval.models import RecallFeedback
from apps.retrieval.scope import SqlScope
from apps.retrieval.search import nearest_sql
from apps.spaces.models import Role

# Bounds that keep a busy memory's page fast; each list says when it is cut.
VERSION_ROWS = 100
SOURCE_EPISODES = 20
CONTEXT_TURNS = 2  # episodes shown before and after a source episode
LINK_ROWS = 200
SIMILAR_COUNT = 5
ACCESS_LOG_ROWS = 20
ACCESS_ACTIONS = ("memory.read", "memory.recall")
# Edit form errors answer 422, not 400: in DEBUG, django-htmx's error page helper
# replaces the whole document with any 400 answer to an htmx request.
INVALID_EDIT = 422
# Lineage reads as a story in this order; every other link type is listed plainly.
LINEAGE = (
    ("derived_from", "Derived or merged from", LinkType.DERIVED_FROM, "outgoing"),
    ("supersedes", "Supersedes", LinkType.SUPERSEDES, "outgoing"),
    ("superseded_by", "Superseded by", LinkType.SUPERSEDES, "incoming"),
    ("derived_into", "Memories derived from this one", LinkType.DERIVED_FROM, "incoming"),
)
STATUS_DONE = {"archive": "Archived", "restore": "Restored", "delete": "Deleted"}
# A message's extra tag naming the section of the memory's page it is shown in.
PLACED = "at:"


# ----------------------------------------------------------------- loading


def _memory_or_404(curator: Curator, memory_id: UUID, *, with_vector: bool = False) -> Memory:
    memories = Memory.objects.for_space(curator.space)
    memories = (
        memories.defer("search_vector")
        if with_vector
        else memories.defer("embedding", "search_vector")
    )
    return get_object_or_404(memories, pk=memory_id)


def _detail_url(curator: Curator, memory_id: object) -> str:
    return reverse("dashboard:memory", args=[curator.space.slug, memory_id])


def _back_to_detail(
    request: HtmxHttpRequest, curator: Curator, memory_id: object, section: str
) -> HttpResponse:
    """Back to the memory's page, at the section acted on: its result message is shown
    there (see `_placed_messages`), so it is in view where the curator was. Without the
    anchor the page came back scrolled as far down as before, and with the edit form
    folded up again that was the bottom: the Purge box."""
    url = _detail_url(curator, memory_id)
    return go_to(request, f"{url}#{section}")


def _tell(request: HtmxHttpRequest, level: int, text: str, section: str) -> None:
    """Queue a result message to be shown in `section` of the memory's page."""
    messages.add_message(request, level, text, extra_tags=f"{PLACED}{section}")


def _placed_messages(request: HtmxHttpRequest) -> dict[str, list[Message]]:
    """The queued messages by the page section they belong to ("top" for the rest)."""
    placed: dict[str, list[Message]] = {}
    for message in messages.get_messages(request):
        tags = message.extra_tags.split() if message.extra_tags else []
        section = next((t.removeprefix(PLACED) for t in tags if t.startswith(PLACED)), "top")
        placed.setdefault(section, []).append(message)
    return placed


def _versions(memory: Memory) -> list[MemoryVersion]:
    return list(
        MemoryVersion.objects.for_space(memory.space_id)
        .filter(memory_id=memory.pk)
        .defer("content", "metadata")
        .order_by("-version")[:VERSION_ROWS]
    )


@dataclass
class SourceContext:
    """A stretch of one session holding one or more source episodes (the turns
    around sources close enough to share a turn are shown once, together)."""

    session: str
    turns: list[Episode]
    source_ids: set[UUID]


def _provenance(memory: Memory) -> tuple[list[SourceContext], bool]:
    """The source episodes, each with up to CONTEXT_TURNS episodes either side of
    it in its session; two queries however many sources there are."""
    episodes = Episode.objects.for_space(memory.space_id)
    sources = list(
        episodes.filter(memories=memory).order_by("occurred_at", "pk")[: SOURCE_EPISODES + 1]
    )
    cut = len(sources) > SOURCE_EPISODES
    sources = sources[:SOURCE_EPISODES]
    in_sessions = [source for source in sources if source.session]
    around = [
        queryset
        for source in in_sessions
        for queryset in _neighbours(episodes.filter(session=source.session), source)
    ]
    nearby = list(around[0].union(*around[1:], all=True)) if around else []
    by_session: dict[str, dict[UUID, Episode]] = {}
    for episode in [*nearby, *in_sessions]:
        by_session.setdefault(episode.session, {})[episode.pk] = episode
    contexts = [
        SourceContext("", [source], {source.pk}) for source in sources if not source.session
    ]
    for session, found in by_session.items():
        contexts += _stretches(session, found, {s.pk for s in in_sessions if s.session == session})
    contexts.sort(key=lambda context: (context.turns[0].occurred_at, context.turns[0].pk))
    return contexts, cut


def _neighbours(session: QuerySet[Episode], source: Episode) -> list[QuerySet[Episode]]:
    when = source.occurred_at
    before = Q(occurred_at__lt=when) | Q(occurred_at=when, pk__lt=source.pk)
    after = Q(occurred_at__gt=when) | Q(occurred_at=when, pk__gt=source.pk)
    return [
        session.filter(before).order_by("-occurred_at", "-pk")[:CONTEXT_TURNS],
        session.filter(after).order_by("occurred_at", "pk")[:CONTEXT_TURNS],
    ]


def _stretches(
    session: str, found: dict[UUID, Episode], source_ids: set[UUID]
) -> list[SourceContext]:
    """Cut one session's fetched turns into the windows around its sources.

    `found` holds every source's nearest turns, so a source's nearest ones are
    the turns next to it in this sorted list. Windows that share a turn merge.
    """
    turns = sorted(found.values(), key=lambda e: (e.occurred_at, e.pk))
    windows: list[list[int]] = []
    for at, turn in enumerate(turns):
        if turn.pk not in source_ids:
            continue
        low, high = max(0, at - CONTEXT_TURNS), min(len(turns) - 1, at + CONTEXT_TURNS)
        if windows and low <= windows[-1][1]:
            windows[-1][1] = high
        else:
            windows.append([low, high])
    return [
        SourceContext(
            session,
            turns[low : high + 1],
            {t.pk for t in turns[low : high + 1] if t.pk in source_ids},
        )
        for low, high in windows
    ]


@dataclass
class LinkedMemory:
    link: Link
    other: Memory
    direction: str  # "outgoing": this memory is the link's source


def _links(memory: Memory) -> tuple[list[tuple[str, str, list[LinkedMemory]]], list[LinkedMemory]]:
    """(lineage sections, other links) from one query over both directions."""
    rows = (
        Link.objects.for_space(memory.space_id)
        .filter(Q(source_id=memory.pk) | Q(target_id=memory.pk))
        .select_related("source", "target")
        .defer(
            "source__embedding",
            "source__search_vector",
            "target__embedding",
            "target__search_vector",
        )
        .order_by("type", "-created_at")[:LINK_ROWS]
    )
    linked = [
        LinkedMemory(link, link.target, "outgoing")
        if link.source_id == memory.pk
        else LinkedMemory(link, link.source, "incoming")
        for link in rows
    ]
    lineage = []
    lineage_types = {link_type for _, _, link_type, _ in LINEAGE}
    for key, title, link_type, direction in LINEAGE:
        lineage.append(
            (
                key,
                title,
                [x for x in linked if x.link.type == link_type and x.direction == direction],
            )
        )
    others = [x for x in linked if x.link.type not in lineage_types]
    return lineage, others


def _similar(memory: Memory) -> list[tuple[Memory, float]]:
    """The nearest active memories by cosine distance, with their similarity, found as
    a search finds its nearest list (search.nearest_sql: the space's HNSW graph, if it
    has one, and the vectors still waiting for it). When the walk finds fewer than asked
    (dead rows not yet vacuumed, inactive ones), every candidate row is compared
    instead: exact, and cheap exactly then, since the space has few memories near this
    one.
    """
    if memory.embedding is None:
        return []
    candidates = Memory.objects.for_space(memory.space_id).active().embedded().exclude(pk=memory.pk)
    scope = SqlScope.of(candidates)
    vector = Vector(memory.embedding).to_text()
    with connection.cursor() as cursor:
        cursor.execute(*nearest_sql(scope, vector, SIMILAR_COUNT, exactly=False))
        nearest = cursor.fetchall()
        if len(nearest) < SIMILAR_COUNT:
            cursor.execute(*nearest_sql(scope, vector, SIMILAR_COUNT, exactly=True))
            nearest = cursor.fetchall()
    if not nearest:
        return []
    found = candidates.defer("embedding", "search_vector").in_bulk([pk for pk, _ in nearest])
    return [(found[pk], 1.0 - float(distance)) for pk, distance in nearest if pk in found]


def _supersessions(
    memory: Memory, lineage: list[tuple[str, str, list[LinkedMemory]]], undoable: list[Proposal]
) -> list[Memory]:
    """The memories superseding this one whose supersession can be undone here: those
    no applied proposal made (that proposal's own Undo takes it back, and marks it)."""
    if memory.status != Status.SUPERSEDED:
        return []
    by_proposal = {str(p.change.get("by")) for p in undoable if p.operation == Operation.SUPERSEDE}
    return [
        item.other
        for key, _, items in lineage
        if key == "superseded_by"
        for item in items
        if str(item.other.pk) not in by_proposal
    ]


def _recall_id(event: AuditEvent) -> UUID | None:
    try:
        return UUID(str(event.summary["recall_id"]))
    except (KeyError, TypeError, ValueError):  # a read, or a recall logged before recall ids
        return None


def _access_log(memory: Memory) -> list[AuditEvent]:
    """The latest reads and recalls, each recall with the feedback given on this memory
    in that recall (`event.feedback`, or None): two queries however many rows."""
    events = list(
        AuditEvent.objects.for_space(memory.space_id)
        .filter(target_type="memory", target_id=str(memory.pk), action__in=ACCESS_ACTIONS)
        .only("actor_label", "action", "created_at", "summary")
        .order_by("-created_at", "-pk")[:ACCESS_LOG_ROWS]
    )
    recall_ids = [pk for pk in map(_recall_id, events) if pk is not None]
    marks = (
        {
            mark.recall_id: mark
            for mark in RecallFeedback.objects.for_space(memory.space_id)
            .filter(memory=memory, recall_id__in=recall_ids)
            .only("recall_id", "verdict", "note", "actor_label", "updated_at")
        }
        if recall_ids
        else {}
    )
    for event in events:
        event.feedback = marks.get(_recall_id(event))  # type: ignore[attr-defined, arg-type]
    return events


def _page_context(
    request: HtmxHttpRequest,
    curator: Curator,
    memory: Memory,
    *,
    form: MemoryEditForm | None = None,
    conflict: Conflict | None = None,
    redact_form: RedactForm | None = None,
) -> dict[str, Any]:
    versions = _versions(memory)
    sources, sources_cut = _provenance(memory)
    lineage, other_links = _links(memory)
    undoable = consolidation.proposals_changing(curator.space, memory) if curator.can_edit else []
    flags = open_flags_by_memory(curator.space, [memory.pk]).get(memory.pk, [])
    return {
        "open_flags": flags,
        "marked_content": marked_text(memory.content, memory.content_hash, flags),
        "undoable": undoable,
        "supersessions": _supersessions(memory, lineage, undoable),
        **_edit_context(curator, memory, form=form, conflict=conflict),
        "nav": "memories",
        "versions": versions,
        "versions_cut": memory.version > len(versions),
        "previous_version": max(1, memory.version - 1),
        "sources": sources,
        "sources_cut": sources_cut,
        "lineage": lineage,
        "has_lineage": any(items for _, _, items in lineage),
        "other_links": other_links,
        "links_cut": len(other_links) + sum(len(items) for _, _, items in lineage) >= LINK_ROWS,
        "has_embedding": memory.embedding is not None,
        "similar": _similar(memory),
        "access_log": _access_log(memory),
        "retention": memory.retention(timezone.now()),
        "purge_form": PurgeForm(),
        "redact_form": redact_form
        or RedactForm(initial={"version": memory.version}, content=memory.content),
        "notes": _placed_messages(request),
        "limits": {"versions": VERSION_ROWS, "sources": SOURCE_EPISODES, "links": LINK_ROWS},
    }


def _edit_context(
    curator: Curator,
    memory: Memory,
    *,
    form: MemoryEditForm | None = None,
    conflict: Conflict | None = None,
) -> dict[str, Any]:
    return {
        "curator": curator,
        "memory": memory,
        "form": form or MemoryEditForm.for_memory(memory),
        "conflict": conflict,
        "editable": memory.status != Status.DELETED,
        "subjects": space_subjects(curator.space) if curator.can_edit else [],
    }


# ----------------------------------------------------------------- detail


@require_GET
@space_page()
def detail(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id, with_vector=True)
    # Recorded before the log is read, so the page shows this visit too.
    record_events(
        curator.space, curator.actor, "memory.read", [("memory", memory.pk, {"via": "dashboard"})]
    )
    return render(request, "dashboard/memory_detail.html", _page_context(request, curator, memory))


# ----------------------------------------------------------------- new memory


@require_http_methods(["GET", "POST"])
@space_page(Role.EDITOR)
def create(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    """A memory written by the curator, through the same `create_memory` as the API's."""
    if request.method == "GET":
        return _create_page(request, curator, MemoryCreateForm())
    form = MemoryCreateForm(request.POST)
    if not form.is_valid():
        return _create_page(request, curator, form, status=400)
    try:
        memory = services.create_memory(
            curator.space,
            curator.actor,
            reason=form.cleaned_data["reason"].strip(),
            **form.fields_for_create(),
        )
    except services.InvalidMemory as refused:
        _add_service_errors(form, refused)
        return _create_page(request, curator, form, status=400)
    messages.success(request, "Memory created (version 1).")
    return go_to(request, _detail_url(curator, memory.pk))


def _create_page(
    request: HtmxHttpRequest, curator: Curator, form: MemoryCreateForm, *, status: int = 200
) -> HttpResponse:
    context = {
        "curator": curator,
        "form": form,
        "subjects": space_subjects(curator.space),
        "nav": "memories",
    }
    return render(request, "dashboard/memory_new.html", context, status=status)


# ----------------------------------------------------------------- edit


@dataclass
class ConflictRow:
    label: str
    theirs: str
    yours: str

    @property
    def differs(self) -> bool:
        return self.theirs != self.yours


@dataclass
class Conflict:
    """A stale edit: what is stored now next to what the editor sent."""

    theirs: Memory
    changed_by: str
    rows: list[ConflictRow]
    content_diff: SafeString
    yours_content: str
    resubmit: list[tuple[str, str]]


def _conflict(request: HtmxHttpRequest, form: MemoryEditForm, current: Memory) -> Conflict:
    latest = (
        MemoryVersion.objects.for_space(current.space_id)
        .filter(memory_id=current.pk, version=current.version)
        .only("actor_label")
        .first()
    )
    yours = form.cleaned_data
    rows = [
        ConflictRow(
            str(form[name].label),
            display_value(getattr(current, name)),
            display_value(yours[name]),
        )
        for name in MemoryEditForm.EDITED
        if name != "content"
    ]
    # The same submission again, now claiming the current version: "mine over theirs".
    resubmit = [
        (key, value)
        for key, values in request.POST.lists()
        if key not in ("csrfmiddlewaretoken", "version")
        for value in values
    ]
    resubmit.append(("version", str(current.version)))
    return Conflict(
        theirs=current,
        changed_by=latest.actor_label if latest else "Someone",
        rows=rows,
        content_diff=render_word_diff(current.content, yours["content"]),
        yours_content=yours["content"],
        resubmit=resubmit,
    )


def _edit_refused(
    request: HtmxHttpRequest,
    curator: Curator,
    memory: Memory,
    form: MemoryEditForm,
    *,
    status: int,
    conflict: Conflict | None = None,
) -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "dashboard/memory_detail.html#edit",
            _edit_context(curator, memory, form=form, conflict=conflict),
            status=status,
        )
    # Without JavaScript the whole page comes back, with the form as it was sent.
    memory = _memory_or_404(curator, memory.pk, with_vector=True)
    return render(
        request,
        "dashboard/memory_detail.html",
        _page_context(request, curator, memory, form=form, conflict=conflict),
        status=status,
    )


def _add_service_errors(form: MemoryFieldsForm, error: services.MemoryServiceError) -> None:
    named = {name: text for name, text in error.details.items() if name in form.fields}
    for name, text in named.items():
        form.add_error(name, str(text))
    if not named:
        form.add_error(None, error.message)


@require_POST
@space_page(Role.EDITOR)
def edit(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id)
    form = MemoryEditForm(request.POST)
    if not form.is_valid():
        return _edit_refused(request, curator, memory, form, status=INVALID_EDIT)
    expected = form.cleaned_data["version"]
    try:
        saved = services.update_memory(
            curator.space,
            curator.actor,
            memory.pk,
            expected_version=expected,
            reason=form.cleaned_data["reason"].strip(),
            **form.changes(memory),
        )
    except services.VersionConflict as stale:
        conflict = _conflict(request, form, stale.current)
        return _edit_refused(request, curator, stale.current, form, status=409, conflict=conflict)
    except (services.InvalidTransition, services.InvalidMemory) as refused:
        _add_service_errors(form, refused)
        return _edit_refused(request, curator, memory, form, status=INVALID_EDIT)
    if saved.version == expected:
        _tell(request, messages.INFO, "Nothing to save: no field was changed.", "edit")
    else:
        _tell(request, messages.SUCCESS, f"Saved version {saved.version}.", "edit")
    return _back_to_detail(request, curator, memory.pk, "edit")


# ----------------------------------------------------------------- lifecycle


@require_POST
@space_page(Role.EDITOR)
def status(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        _tell(request, messages.ERROR, "Choose archive, restore or delete.", "status")
        return _back_to_detail(request, curator, memory.pk, "status")
    action = form.cleaned_data["action"]
    try:
        changed = services.change_status(
            curator.space,
            curator.actor,
            memory.pk,
            action,
            reason=form.cleaned_data["reason"].strip(),
        )
    except services.InvalidTransition as refused:
        _tell(request, messages.ERROR, f"Not changed: {refused.message}.", "status")
    else:
        done = f"{STATUS_DONE[action]}: now version {changed.version}."
        _tell(request, messages.SUCCESS, done, "status")
    return _back_to_detail(request, curator, memory.pk, "status")


@require_POST
@space_page(Role.EDITOR)
def revert(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id)
    form = RevertForm(request.POST)
    if not form.is_valid():
        _tell(request, messages.ERROR, "Say which version to revert to.", "versions")
        return _back_to_detail(request, curator, memory.pk, "versions")
    to_version, expected = form.cleaned_data["to_version"], form.cleaned_data["version"]
    try:
        reverted = services.revert_to_version(
            curator.space,
            curator.actor,
            memory.pk,
            to_version=to_version,
            expected_version=expected,
            reason=form.cleaned_data["reason"].strip(),
        )
    except services.VersionConflict as stale:
        _tell(
            request,
            messages.ERROR,
            f"Not reverted: the memory changed since you opened it "
            f"(now version {stale.details['current_version']}). Check the versions and try again.",
            "versions",
        )
    except services.MemoryServiceError as refused:
        _tell(request, messages.ERROR, f"Not reverted: {refused.message}.", "versions")
    else:
        if not reverted.changed:
            same = f"Nothing to revert: version {to_version} is the same."
            _tell(request, messages.INFO, same, "versions")
        else:
            saved = f"Reverted to version {to_version}: saved as version {reverted.memory.version}."
            _tell(request, messages.SUCCESS, saved, "versions")
            # What came back, and what did not (status and validity go together).
            outcome = f"{reverted.outcome[0].upper()}{reverted.outcome[1:]}."
            _tell(request, messages.INFO, outcome, "versions")
    return _back_to_detail(request, curator, memory.pk, "versions")


@require_POST
@space_page(Role.EDITOR)
def unsupersede(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    """Undo a supersession made outside consolidation (by an agent or a curator)."""
    memory = _memory_or_404(curator, memory_id)
    by = request.POST.get("by", "")
    try:
        restored = services.unsupersede_memory(
            curator.space,
            curator.actor,
            memory.pk,
            UUID(by),
            reason=request.POST.get("reason", "").strip()[:500] or "supersession undone",
        )
    except ValueError:
        _tell(request, messages.ERROR, "Say which memory's supersession to undo.", "undo")
    except services.MemoryServiceError as refused:
        _tell(request, messages.ERROR, f"Not undone: {refused.message}.", "undo")
    else:
        _tell(
            request,
            messages.SUCCESS,
            f"Supersession undone: the memory is {restored.status} again, with the validity "
            f"it had before; now version {restored.version}.",
            "undo",
        )
    return _back_to_detail(request, curator, memory.pk, "undo")


@require_POST
@space_page(Role.EDITOR)
def redact(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    """Redact a span of the content: a new version with `[REDACTED:type]`, and the text
    gone from the memory's history and every copy (services.redact_memory)."""
    memory = _memory_or_404(curator, memory_id)
    form = RedactForm(request.POST, content=memory.content)
    if form.is_valid():
        try:
            redacted = services.redact_memory(
                curator.space,
                curator.actor,
                memory.pk,
                [form.span()],
                reason=form.cleaned_data["reason"].strip(),
                expected_version=form.cleaned_data["version"],
            )
        except services.VersionConflict as stale:
            form.add_error(
                None,
                f"The memory changed since you opened it (now version "
                f"{stale.details['current_version']}). Reload the page and redact again.",
            )
        except services.MemoryServiceError as refused:
            form.add_error(None, refused.message)
        else:
            done = (
                f"Redacted: saved as version {redacted.version}; the text is gone from its history."
            )
            _tell(request, messages.SUCCESS, done, "redact")
            return _back_to_detail(request, curator, memory.pk, "redact")
    memory = _memory_or_404(curator, memory.pk, with_vector=True)
    context = _page_context(request, curator, memory, redact_form=form)
    return render(request, "dashboard/memory_detail.html", context, status=INVALID_EDIT)


@require_POST
@space_page(Role.ADMIN)
def purge(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id)
    form = PurgeForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "dashboard/memory_purge.html",
            {"curator": curator, "memory": memory, "purge_form": form, "nav": "memories"},
            status=400,
        )
    services.purge_memory(
        curator.space, curator.actor, memory.pk, reason=form.cleaned_data["reason"].strip()
    )
    messages.success(request, "Purged: the memory and its history are gone.")
    url = reverse("dashboard:browse", args=[curator.space.slug])
    return go_to(request, url)


# ----------------------------------------------------------------- versions


@require_GET
@space_page()
def versions(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _memory_or_404(curator, memory_id)
    form = VersionPairForm(request.GET)
    context: dict[str, Any] = {
        "curator": curator,
        "memory": memory,
        "pair_form": form,
        "nav": "memories",
    }
    comparison = _comparison(memory, form) if form.is_valid() else None
    context["comparison"] = comparison
    status_code = 200 if comparison else 400
    template = "dashboard/memory_versions.html"
    if request.htmx:
        template += "#diff"
    return render(request, template, context, status=status_code)


@dataclass
class Comparison:
    old: MemoryVersion
    new: MemoryVersion
    content: SafeString
    content_changed: bool
    metadata: list[Any]
    fields: list[Any]


def _comparison(memory: Memory, form: VersionPairForm) -> Comparison | None:
    """The diff between the two requested versions, or None with the form's errors."""
    numbers = (form.cleaned_data["a"], form.cleaned_data["b"])
    found = {
        v.version: v
        for v in MemoryVersion.objects.for_space(memory.space_id).filter(
            memory_id=memory.pk, version__in=numbers
        )
    }
    for name, number in zip(("a", "b"), numbers, strict=True):
        if number not in found:
            form.add_error(name, f"This memory has no version {number}.")
    if len(found) < 2:
        return None
    old, new = found[numbers[0]], found[numbers[1]]
    return Comparison(
        old=old,
        new=new,
        content=render_word_diff(old.content, new.content),
        content_changed=old.content != new.content,
        metadata=metadata_diff(old.metadata, new.metadata),
        fields=field_changes(old.snapshot(), new.snapshot()),
    )
