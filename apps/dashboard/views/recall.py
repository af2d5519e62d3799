"""The recall simulator: "why did the agent bring this up?"

A curator runs a query as an agent's token would run it through the API, with its
filters, mode, k and `as_of`, and sees each hit's score taken apart (vector rank and
similarity, BM25 rank and score, context and graph shares, re-scoring terms) next to
the hits that fell just below the cut. A simulation is not a recall: nothing is
written to the access log and no memory gains strength. The page is a GET form, so
its URL is the simulation, and a memory page's access log links to it.

Each hit can be pinned, archived, edited or linked in place; those changes go
through `apps.memories.services` like every other, and come back to the same
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.core.params import InstantFormField
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.forms import MemoryFieldsForm, StatusForm
from apps.hygiene.marks import attach_open_flags
from apps.memories import services
from apps.memories.models import Kind, LinkType, Memory, MemoryRules, Status
from apps.retrieval.search import MAX_K, MODES, Filters, Hit, InvalidSearch, Weights, search
from apps.spaces.models import ApiToken, Role, Scope, Space

DEFAULT_K = 10
BELOW_CUT = 10
# The links a curator draws between two hits; lineage (derived, supersedes) and
# conversation order have their own workflows, which change statuses too.
LINK_TYPES = (LinkType.RELATED_TO, LinkType.CONTRADICTS, LinkType.SAME_ENTITY)
# Status changes offered next to a hit; deleting stays on the memory's own page.
HIT_STATUS_ACTIONS = ("archive", "restore")
# A message's extra tag naming the hit whose row shows it.
FOR_HIT = "hit:"
# Callers that are not tokens: a person's role or a system job sees the whole space.
UNRESTRICTED_PREFIXES = ("user:", "system:")


# ----------------------------------------------------------------- the form


class RecallForm(forms.Form):
    """A search as the API's POST /api/v1/search takes it, plus who runs it."""

    q = forms.CharField(
        required=False,
        max_length=500,
        label="Query",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "What pet does Ana have?"}),
    )
    mode = forms.ChoiceField(
        choices=[(m, m.capitalize()) for m in sorted(MODES, key=lambda m: m != "hybrid")],
        required=False,
        label="Mode",
    )
    k = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_K,
        label="k (hits)",
        widget=forms.NumberInput(attrs={"placeholder": str(DEFAULT_K)}),
    )
    actor = forms.ChoiceField(required=False, label="Run as")
    as_of = InstantFormField(
        required=False,
        label="As of",
        help_text="ISO 8601, e.g. 2026-09-15T12:00Z: what was valid and recorded then.",
        widget=forms.TextInput(attrs={"placeholder": "2026-09-15T12:00Z"}),
    )
    subject = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    agent = forms.CharField(
        required=False, max_length=MemoryRules.LABEL_MAX_LENGTH, label="Agent filter"
    )
    session = forms.CharField(required=False, max_length=MemoryRules.LABEL_MAX_LENGTH)
    kind = forms.ChoiceField(choices=[("", "Any kind"), *Kind.choices], required=False)
    tag = forms.CharField(
        required=False,
        max_length=500,
        label="Tags",
        widget=forms.TextInput(attrs={"placeholder": "any of: tag, tag"}),
    )
    status = forms.ChoiceField(
        choices=[
            ("", "Active (and superseded, with as of)"),
            *[(value, label) for value, label in Status.choices if value != "active"],
            ("any", "Any status"),
        ],
        required=False,
    )
    focus = forms.UUIDField(required=False, widget=forms.HiddenInput)

    WHO = ("actor", "as_of", "k")
    FILTERS = ("subject", "agent", "session", "kind", "tag", "status")

    def __init__(self, *args: Any, space: Space, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "recall_%s")
        super().__init__(*args, **kwargs)
        self.space = space
        self.tokens = {t.name: t for t in ApiToken.objects.filter(space=space).order_by("name")}
        choices = [("", "A curator (the whole space)")]
        choices += [
            (f"token:{name}", f"token:{name}{'' if token.is_active else ' (revoked or expired)'}")
            for name, token in self.tokens.items()
        ]
        given = str(self.data.get("actor", "")) if self.is_bound else ""
        if given.startswith(UNRESTRICTED_PREFIXES):
            choices.append((given, given))  # from an access log row
        actor_field = self.fields["actor"]
        assert isinstance(actor_field, forms.ChoiceField)
        actor_field.choices = choices

    def clean_actor(self) -> ApiToken | None:
        label = self.cleaned_data.get("actor") or ""
        return self.tokens[label.removeprefix("token:")] if label.startswith("token:") else None

    def has_query(self) -> bool:
        return bool((self.cleaned_data.get("q") or "").strip())

    def filters(self) -> Filters:
        data = self.cleaned_data
        status = data.get("status") or ""
        return Filters(
            subject=data.get("subject") or None,
            agent=data.get("agent") or None,
            session=data.get("session") or None,
            kinds=[data["kind"]] if data.get("kind") else [],
            tags=[t.strip() for t in (data.get("tag") or "").split(",") if t.strip()],
            statuses=list(Status.values) if status == "any" else ([status] if status else []),
            as_of=data.get("as_of"),
        )


def refusal(token: ApiToken | None, moment: datetime | None) -> str:
    """Why the API would not run this token's search at `moment` (now when None), or
    "". A token reaches only its own space's memories, and searches with
    memories:read; the space's own queryset gives the first, this checks the rest."""
    if token is None:
        return ""
    if not token.has_scope(Scope.MEMORIES_READ):
        return (
            f"token:{token.name} has no memories:read scope: the API refuses its "
            "searches (403), so it is shown nothing."
        )
    if moment is not None and token.created_at > moment:
        return f"token:{token.name} did not exist yet at that moment."
    ended = [t for t in (token.revoked_at, token.expires_at) if t is not None]
    if ended and min(ended) <= (moment or timezone.now()):
        return (
            f"token:{token.name} was revoked or had expired by then: the API refuses "
            "it (401), so it is shown nothing."
        )
    return ""


# ----------------------------------------------------------------- explaining a hit


@dataclass
class ExplainedHit:
    """One ranked memory and its score taken apart, as the table shows it."""

    rank: int
    hit: Hit
    weak: bool
    notes: list[Message] = field(default_factory=list)  # results of acting on it

    @property
    def memory(self) -> Memory:
        return self.hit.memory

    @property
    def vector(self) -> dict[str, Any] | None:
        return self.hit.components.get("vector")

    @property
    def text(self) -> dict[str, Any] | None:
        return self.hit.components.get("text")

    @property
    def context(self) -> list[dict[str, Any]]:
        return list(self.hit.components.get("context", []))

    @property
    def context_total(self) -> float:
        return sum(float(share["score"]) for share in self.context)

    @property
    def graph(self) -> dict[str, Any] | None:
        return self.hit.components.get("graph")

    @property
    def rescoring(self) -> dict[str, float] | None:
        """The re-scoring terms, present only when a recency, importance or strength
        weight is set (the base is then the fused score divided by the best one)."""
        terms = self.hit.components
        if "recency" not in terms:
            return None
        return {name: terms[name] for name in ("base", "recency", "importance", "retention")}

    @property
    def final(self) -> float:
        return float(self.hit.components.get("final", self.hit.score))


def explained(hits: list[Hit], start: int, floor: float) -> list[ExplainedHit]:
    return [
        ExplainedHit(rank=start + offset, hit=hit, weak=hit.is_weak(floor))
        for offset, hit in enumerate(hits)
    ]


# ----------------------------------------------------------------- the page


@require_GET
@space_page()
def simulator(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = RecallForm(request.GET or None, space=curator.space)
    context: dict[str, Any] = {
        "curator": curator,
        "form": form,
        "nav": "recall",
        "hits": [],
        "below": [],
        "ran": False,
        "refused": "",
        "weights": Weights.from_settings(),
        "back": _simulation_query(request.GET),
        "link_types": [(t.value, t.label) for t in LINK_TYPES],
        "status_actions": HIT_STATUS_ACTIONS,
    }
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_bound and form.has_query():
        status = _simulate(form, curator, context)
    notes = _notes_by_hit(request)
    for row in [*context["hits"], *context["below"]]:
        row.notes = notes.pop(str(row.memory.pk), [])
    context.update(
        top_notes=[message for found in notes.values() for message in found],
        who_fields=[form[name] for name in RecallForm.WHO],
        filter_fields=[form[name] for name in RecallForm.FILTERS],
        filters_open=any(form[name].value() for name in RecallForm.FILTERS)
        or any(name in form.errors for name in RecallForm.FILTERS),
    )
    return render(request, "dashboard/recall.html", context, status=status)


def _simulate(form: RecallForm, curator: Curator, context: dict[str, Any]) -> int:
    data = form.cleaned_data
    token: ApiToken | None = data.get("actor")
    filters = form.filters()
    context["refused"] = refusal(token, filters.as_of)
    if context["refused"]:
        context["ran"] = True
        return 200
    try:
        result = search(
            curator.space,
            data["q"],
            mode=data.get("mode") or "hybrid",
            k=data.get("k") or DEFAULT_K,
            filters=filters,
            # A simulation is not a recall: no access log row, no strength gained.
            record_access=False,
            below_cut=BELOW_CUT,
        )
    except InvalidSearch as refused:
        form.add_error(None, refused.message)
        return 400
    floor = float(settings.SEARCH_WEAK_SIMILARITY)
    hits = explained(result.hits, 1, floor)
    below = explained(result.below_cut, len(result.hits) + 1, floor)
    # A hit carries its open flags as a search result does elsewhere (one query).
    attach_open_flags(curator.space, [row.memory for row in [*hits, *below]])
    focus = data.get("focus")
    context.update(
        ran=True,
        result=result,
        hits=hits,
        below=below,
        focus=focus,
        focus_missing=focus is not None and all(row.memory.pk != focus for row in [*hits, *below]),
        others=[row.memory for row in [*hits, *below]],
        weak_floor=floor,
    )
    return 200


def _simulation_query(params: QueryDict) -> str:
    """The simulation's own parameters, re-encoded: the way back after an action."""
    wanted = QueryDict(mutable=True)
    for name in RecallForm.base_fields:
        for value in params.getlist(name)[:1]:
            wanted[name] = value
    return wanted.urlencode()


def _notes_by_hit(request: HtmxHttpRequest) -> dict[str, list[Message]]:
    """The queued messages by the hit they are about ("" for the page's top)."""
    notes: dict[str, list[Message]] = {}
    for message in messages.get_messages(request):
        tags = message.extra_tags.split() if message.extra_tags else []
        about = next((t.removeprefix(FOR_HIT) for t in tags if t.startswith(FOR_HIT)), "")
        notes.setdefault(about, []).append(message)
    return notes


# ----------------------------------------------------------------- acting on a hit


def _back(request: HtmxHttpRequest, curator: Curator, memory_id: object) -> HttpResponse:
    """Back to the same simulation, at the row acted on (its message is shown there)."""
    query = _simulation_query(QueryDict(request.POST.get("back", "")))
    url = reverse("dashboard:recall", args=[curator.space.slug])
    return go_to(request, f"{url}?{query}#hit-{memory_id}")


def _tell(request: HtmxHttpRequest, level: int, text: str, memory_id: object) -> None:
    messages.add_message(request, level, text, extra_tags=f"{FOR_HIT}{memory_id}")


def _hit_memory(curator: Curator, memory_id: UUID) -> Memory:
    memories = Memory.objects.for_space(curator.space).defer("embedding", "search_vector")
    return get_object_or_404(memories, pk=memory_id)


class PinForm(forms.Form):
    pinned = forms.BooleanField(required=False)
    version = forms.IntegerField(min_value=1)


@require_POST
@space_page(Role.EDITOR)
def pin(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _hit_memory(curator, memory_id)
    form = PinForm(request.POST)
    if not form.is_valid():
        _tell(request, messages.ERROR, "Not changed: reload and try again.", memory.pk)
        return _back(request, curator, memory.pk)
    pinned = form.cleaned_data["pinned"]
    try:
        saved = services.update_memory(
            curator.space,
            curator.actor,
            memory.pk,
            expected_version=form.cleaned_data["version"],
            reason="pinned from the recall simulator"
            if pinned
            else "unpinned from the recall simulator",
            pinned=pinned,
        )
    except services.VersionConflict as stale:
        _tell(request, messages.ERROR, _changed_since(stale), memory.pk)
    except services.MemoryServiceError as refused:
        _tell(request, messages.ERROR, f"Not changed: {refused.message}.", memory.pk)
    else:
        done = "Pinned" if pinned else "Unpinned"
        _tell(request, messages.SUCCESS, f"{done}: now version {saved.version}.", memory.pk)
    return _back(request, curator, memory.pk)


@require_POST
@space_page(Role.EDITOR)
def status(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _hit_memory(curator, memory_id)
    form = StatusForm(request.POST)
    if not form.is_valid() or form.cleaned_data["action"] not in HIT_STATUS_ACTIONS:
        _tell(request, messages.ERROR, "Choose archive or restore.", memory.pk)
        return _back(request, curator, memory.pk)
    action = form.cleaned_data["action"]
    try:
        changed = services.change_status(
            curator.space,
            curator.actor,
            memory.pk,
            action,
            reason=form.cleaned_data["reason"].strip() or f"{action}d from the recall simulator",
        )
    except services.InvalidTransition as refused:
        _tell(request, messages.ERROR, f"Not changed: {refused.message}.", memory.pk)
    else:
        done = f"{action.capitalize()}d: now version {changed.version}."
        _tell(request, messages.SUCCESS, done, memory.pk)
    return _back(request, curator, memory.pk)


class ContentForm(forms.Form):
    # The text's rules are the memory form's own.
    content = MemoryFieldsForm.base_fields["content"]
    version = forms.IntegerField(min_value=1)

    clean_content = MemoryFieldsForm.clean_content


@require_POST
@space_page(Role.EDITOR)
def edit(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    """A change of the text only; every other field is edited on the memory's page."""
    memory = _hit_memory(curator, memory_id)
    form = ContentForm(request.POST)
    if not form.is_valid():
        errors = " ".join(str(e) for errors in form.errors.values() for e in errors)
        _tell(request, messages.ERROR, f"Not saved: {errors}", memory.pk)
        return _back(request, curator, memory.pk)
    try:
        saved = services.update_memory(
            curator.space,
            curator.actor,
            memory.pk,
            expected_version=form.cleaned_data["version"],
            reason="edited from the recall simulator",
            content=form.cleaned_data["content"],
        )
    except services.VersionConflict as stale:
        _tell(request, messages.ERROR, _changed_since(stale), memory.pk)
    except services.MemoryServiceError as refused:
        _tell(request, messages.ERROR, f"Not saved: {refused.message}.", memory.pk)
    else:
        if saved.version == form.cleaned_data["version"]:
            _tell(request, messages.INFO, "Nothing to save: the text is the same.", memory.pk)
        else:
            text = f"Saved version {saved.version}; its new embedding is on its way."
            _tell(request, messages.SUCCESS, text, memory.pk)
    return _back(request, curator, memory.pk)


class LinkForm(forms.Form):
    target = forms.UUIDField()
    type = forms.ChoiceField(choices=[(t.value, t.label) for t in LINK_TYPES])


@require_POST
@space_page(Role.EDITOR)
def link(request: HtmxHttpRequest, curator: Curator, memory_id: UUID) -> HttpResponse:
    memory = _hit_memory(curator, memory_id)
    form = LinkForm(request.POST)
    if not form.is_valid():
        _tell(request, messages.ERROR, "Choose a memory and a kind of link.", memory.pk)
        return _back(request, curator, memory.pk)
    try:
        created = services.link_memories(
            curator.space,
            curator.actor,
            memory.pk,
            form.cleaned_data["target"],
            form.cleaned_data["type"],
        )
    except services.MemoryServiceError as refused:
        _tell(request, messages.ERROR, f"Not linked: {refused.message}.", memory.pk)
    else:
        text = f"Linked: this memory {created.get_type_display()} the one chosen."
        _tell(request, messages.SUCCESS, text, memory.pk)
    return _back(request, curator, memory.pk)


def _changed_since(stale: services.VersionConflict) -> str:
    return (
        "Not changed: the memory changed since this simulation ran "
        f"(now version {stale.current.version}). Look again and retry."
    )
