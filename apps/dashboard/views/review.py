"""The review queue: what consolidation proposes, with a preview of the change;
approve (editing a merge's text first if need be), reject, or approve a whole
operation above a score. Applying goes through the domain layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.diffing import render_word_diff
from apps.dashboard.forms import BulkApproveForm, QueueForm
from apps.dashboard.queueing import queue_job
from apps.memories.models import Memory
from apps.spaces.models import Role

PAGE = 50


@dataclass
class Card:
    proposal: Proposal
    memories: list[Memory]
    previews: list[tuple[Memory, SafeString]]  # each original against the merged text
    related: list[tuple[Memory, float]]  # for a link proposal: the memories and similarity


def _cards(curator: Curator, proposals: list[Proposal]) -> list[Card]:
    wanted = {pk for p in proposals for pk in p.memory_ids}
    wanted |= {UUID(pk) for p in proposals for pk in p.change.get("related_to", [])}
    found = (
        Memory.objects.for_space(curator.space)
        .filter(pk__in=wanted)
        .defer("embedding", "search_vector")
        .in_bulk()
    )
    cards = []
    for proposal in proposals:
        involved = [found[pk] for pk in proposal.memory_ids if pk in found]
        previews = []
        if proposal.operation == Operation.MERGE:
            kept = str(proposal.change.get("content", ""))
            previews = [(m, render_word_diff(m.content, kept)) for m in involved]
        elif proposal.operation == Operation.SUPERSEDE and len(involved) == 2:
            older, newer = involved
            previews = [(older, render_word_diff(older.content, newer.content))]
        similarities = proposal.evidence.get("similarities", {})
        related = [
            (found[UUID(pk)], float(similarities.get(pk, 0.0)))
            for pk in proposal.change.get("related_to", [])
            if UUID(pk) in found
        ]
        cards.append(Card(proposal, involved, previews, related))
    return cards


def _queue(curator: Curator, form: QueueForm) -> Any:
    proposals = Proposal.objects.for_space(curator.space)
    data = form.cleaned_data if form.is_valid() else {}
    proposals = proposals.filter(status=data.get("status") or Proposal.Status.PENDING)
    if data.get("operation"):
        proposals = proposals.filter(operation=data["operation"])
    if data.get("min_score") is not None:
        proposals = proposals.filter(score__gte=data["min_score"])
    return proposals.order_by("-score", "pk")


@require_GET
@space_page()
def queue(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = QueueForm(request.GET)
    proposals = _queue(curator, form)
    shown = list(proposals[:PAGE])
    pending = dict(
        Proposal.objects.for_space(curator.space)
        .filter(status=Proposal.Status.PENDING)
        .values_list("operation")
        .annotate(count=Count("pk"))
        .values_list("operation", "count")
    )
    context = {
        "nav": "review",
        "form": form,
        "cards": _cards(curator, shown),
        "total": proposals.count(),
        "page": PAGE,
        "pending": [(label, pending.get(op, 0)) for op, label in Operation.choices],
        "operations": dict(Operation.choices),
    }
    return render(request, "dashboard/review.html", context, status=200 if form.is_valid() else 400)


def _proposal_or_404(curator: Curator, proposal_id: int) -> Proposal:
    found = Proposal.objects.for_space(curator.space).filter(pk=proposal_id).first()
    if found is None:
        raise Http404("No such proposal in this space")
    return found


def _decided(request: HtmxHttpRequest, curator: Curator, proposal: Proposal) -> HttpResponse:
    if request.htmx:
        fresh = Proposal.objects.for_space(curator.space).get(pk=proposal.pk)
        card = _cards(curator, [fresh])[0]
        return render(request, "dashboard/review.html#card", {"card": card, "curator": curator})
    return go_to(request, reverse("dashboard:review", args=[curator.space.slug]))


@require_POST
@space_page(Role.EDITOR)
def approve(request: HtmxHttpRequest, curator: Curator, proposal_id: int) -> HttpResponse:
    proposal = _proposal_or_404(curator, proposal_id)
    content = request.POST.get("content")
    if content is not None and not content.strip():
        messages.error(request, "The merged text cannot be empty.")
        return _decided(request, curator, proposal)
    try:
        applied = consolidation.apply(proposal, curator.actor, content=content)
    except consolidation.ProposalError as refused:
        messages.error(request, f"Not applied: {refused.message}.")
    else:
        messages.success(request, f"Applied: {applied.get_operation_display().lower()}.")
    return _decided(request, curator, proposal)


@require_POST
@space_page(Role.EDITOR)
def reject(request: HtmxHttpRequest, curator: Curator, proposal_id: int) -> HttpResponse:
    proposal = _proposal_or_404(curator, proposal_id)
    try:
        consolidation.reject(proposal, curator.actor, reason=request.POST.get("reason", "")[:500])
    except consolidation.ProposalError as refused:
        messages.error(request, f"Not rejected: {refused.message}.")
    else:
        messages.success(request, "Rejected: it will not be proposed again.")
    return _decided(request, curator, proposal)


@require_POST
@space_page(Role.EDITOR)
def approve_many(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    """Approve every pending proposal of one operation at or above a score, after a
    confirmation that says how many."""
    form = BulkApproveForm(request.POST)
    back = reverse("dashboard:review", args=[curator.space.slug])
    if not form.is_valid():
        messages.error(request, "Choose an operation and a score from 0 to 1.")
        return go_to(request, back)
    chosen = list(
        Proposal.objects.for_space(curator.space).filter(
            status=Proposal.Status.PENDING,
            operation=form.cleaned_data["operation"],
            score__gte=form.cleaned_data["min_score"],
        )
    )
    if not form.cleaned_data["confirmed"]:
        context = {"form": form, "count": len(chosen), "post": request.POST, "back": back}
        return render(request, "dashboard/review_confirm.html", context)
    applied = stale = 0
    for proposal in chosen:
        try:
            consolidation.apply(proposal, curator.actor)
            applied += 1
        except consolidation.ProposalError:
            stale += 1
    text = f"Applied {applied} of {len(chosen)}."
    if stale:
        text += f" {stale} had changed since they were proposed and were left alone."
    messages.success(request, text)
    return go_to(request, back)


@require_POST
@space_page(Role.EDITOR)
def run(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = queue_job(
        request, lambda: consolidation.start_consolidation(curator.space), "consolidation"
    )
    if job is None:
        return go_to(request, reverse("dashboard:review", args=[curator.space.slug]))
    messages.success(request, "Consolidating this space: new proposals appear as it finds them.")
    return go_to(request, reverse("dashboard:job", args=[curator.space.slug, job.pk]))
