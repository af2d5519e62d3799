"""The review queue: what consolidation proposes, with the evidence a curator needs
to decide in seconds (both texts with the differing values marked, subjects, times,
similarity, and what approving will do); approve (editing a merge's text first if need
be), reject, or decide many at once; run consolidation and watch it in place.
Applying goes through the domain layer."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_POST

from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.diffing import render_word_diff, word_diff
from apps.dashboard.forms import BulkApproveForm, QueueForm
from apps.dashboard.queueing import queue_job
from apps.jobs.models import Job
from apps.memories.models import Memory
from apps.spaces.models import Role

PAGE = 50
CONSOLIDATE = "consolidate"  # the job kind start_consolidation creates

# Said on a card whose proposal has no recorded reason (older rows, or a path that
# did not give one): a stale card always says why.
WHY = {
    Proposal.Status.STALE: "its memories changed after it was proposed, so approving it "
    "would act on text nobody reviewed.",
    Proposal.Status.RETIRED: "checked again against its memories' current versions, "
    "it no longer holds.",
    Proposal.Status.UNDONE: "it was applied and then undone; its memories are as they were before.",
}


@dataclass
class Side:
    """One memory of a supersession, its text with what differs marked."""

    memory: Memory
    label: str
    text: SafeString


@dataclass
class Card:
    proposal: Proposal
    memories: list[Memory]
    previews: list[tuple[Memory, SafeString]] = field(default_factory=list)  # merge: → merged
    related: list[tuple[Memory, float]] = field(default_factory=list)  # link: and similarity
    sides: list[Side] = field(default_factory=list)  # supersede: earlier, later
    differences: list[Difference] = field(default_factory=list)  # "Lisbon → Porto"
    cues: list[str] = field(default_factory=list)  # words that say it changed
    reason: str = ""  # why it was proposed, as the method put it
    similarity: str = ""  # "0.912", or "0.901 to 0.970" for a group
    outcome: str = ""  # what approving (or reapplying) does
    sentences: list[tuple[str, list[Memory]]] = field(default_factory=list)  # summary
    # entity: each memory naming it, with the name marked, or a mention's bare text
    mentions: list[tuple[Memory | None, SafeString]] = field(default_factory=list)

    @property
    def why(self) -> str:
        """Why a stale, retired or undone proposal is so, or what the re-check of a
        pending one found; empty for the others."""
        if self.proposal.status == Proposal.Status.PENDING:
            return self.proposal.status_reason
        if self.proposal.status not in WHY:
            return ""
        return self.proposal.status_reason or WHY[Proposal.Status(self.proposal.status)]


def _uuid(value: object) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _named(found: dict[UUID, Memory], ref: object) -> Memory | None:
    pk = _uuid(ref)
    return found.get(pk) if pk else None


def _quote(memory: Memory | None, length: int = 80) -> str:
    return f"“{Truncator(memory.content).chars(length)}”" if memory else "a memory"


# ------------------------------------------------------- marking what differs

# Evidence names each side of a differing value in one of a few ways (the method that
# finds them evolves): the names either side may carry, in order of preference.
_BEFORE = ("before", "old", "older", "earlier")
_AFTER = ("after", "new", "newer", "later")

Located = tuple[str, tuple[int, int] | None]  # a value's text, and where it sits if known


@dataclass
class Difference:
    """A value the two statements disagree on: what kind, and each side's values."""

    kind: str
    before: list[Located]
    after: list[Located]
    label: str = ""  # said instead of the values (a negation has none)

    def __str__(self) -> str:
        if self.label:
            return self.label
        before = ", ".join(text for text, _ in self.before) or "—"
        after = ", ".join(text for text, _ in self.after) or "—"
        # A name speaks for itself; "when: 2024 → 2025" needs its kind.
        named = self.kind and self.kind not in ("name", "names")
        return f"{self.kind}: {before} → {after}" if named else f"{before} → {after}"


def _span(value: Any) -> tuple[int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        start, end = value
        if isinstance(start, int) and isinstance(end, int):
            return (start, end)
    return None


def _values(raw: Any, span: Any = None) -> list[Located]:
    """A side's values as (text, span): from a string, a {"text", "span"} (or start and
    end) mapping, or a list of either."""
    if isinstance(raw, bool) or raw is None:
        return []
    if isinstance(raw, str | int | float):
        return [(str(raw), _span(span))] if str(raw).strip() else []
    if isinstance(raw, dict):
        text = raw.get("text") or raw.get("value") or ""
        where = raw.get("span") or [raw.get("start"), raw.get("end")]
        return [(str(text), _span(where))] if text or _span(where) else []
    if isinstance(raw, list | tuple):
        return [value for item in raw for value in _values(item, span if len(raw) == 1 else None)]
    return []


def _side(item: dict[str, Any], names: tuple[str, ...]) -> list[Located]:
    for name in names:
        if name in item:
            span = item.get(f"{name}_span") or item.get(f"span_{name}")
            spans = item.get("spans")
            if span is None and isinstance(spans, dict):
                span = spans.get(name)
            return _values(item[name], span)
    return []


def differences(evidence: dict[str, Any]) -> list[Difference]:
    """The evidence's differing values, whichever shape it has: a list of {kind, before,
    after} (each side a value, a {text, span} or a list of them) under "differs" or
    "values", or the older "differs" mapping of numbers / names / negation."""
    for key in ("differs", "values", "differences", "differing_values"):
        found = evidence.get(key)
        if isinstance(found, list):
            return [
                Difference(
                    str(item.get("kind") or item.get("type") or ""),
                    _side(item, _BEFORE),
                    _side(item, _AFTER),
                    str(item.get("label") or ""),
                )
                for item in found
                if isinstance(item, dict)
            ]
        if isinstance(found, dict):
            return [_older_difference(kind, detail) for kind, detail in found.items()]
    return []


def _older_difference(kind: str, detail: Any) -> Difference:
    if kind == "negation":
        said = isinstance(detail, dict) and bool(detail.get("before"))
        return Difference(
            kind, [], [], "the earlier is negated" if said else "the later negates it"
        )
    detail = detail if isinstance(detail, dict) else {}
    return Difference(kind, _values(detail.get("before")), _values(detail.get("after")))


def change_cues(evidence: dict[str, Any]) -> list[Located]:
    """The words in the later statement that say something changed ("moved", "now")."""
    for key in ("change_cues", "cues", "cue_words"):
        found = evidence.get(key)
        if found:
            return _values(found if isinstance(found, list) else [found])
    return []


def _located(text: str, value: Located) -> tuple[int, int] | None:
    """Where a value sits in `text`: its span when that fits the text (and holds the
    value, if one is named), else the value's first occurrence as a whole word."""
    words, span = value
    inside = span is not None and 0 <= span[0] < span[1] <= len(text)
    if span and inside and (not words or text[span[0] : span[1]].casefold() == words.casefold()):
        return span
    if words.strip():
        found = re.search(rf"(?<!\w){re.escape(words.strip())}(?!\w)", text, re.IGNORECASE)
        if found:
            return found.span()
    return None


def mark_spans(text: str, spans: Iterable[tuple[int, int, str]]) -> SafeString:
    """Escaped `text` with each (start, end, class) span in <mark class=…>; a span
    overlapping an earlier one is cut to what is left of it."""
    parts: list[str] = []
    position = 0
    for start, end, css in sorted(spans):
        start = max(start, position)
        if end <= start:
            continue
        parts.append(escape(text[position:start]))
        parts.append(f'<mark class="{css}">{escape(text[start:end])}</mark>')
        position = end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))


def _word_diff_sides(older: str, newer: str) -> tuple[SafeString, SafeString]:
    """Each text with the words the other lacks highlighted: removed in the earlier,
    added in the later."""
    before: list[str] = []
    after: list[str] = []
    for op, text in word_diff(older, newer):
        body = text.rstrip()
        if op != "insert":
            before.append(escape(text) if op == "equal" else f"<del>{escape(body)}</del> ")
        if op != "delete":
            after.append(escape(text) if op == "equal" else f"<ins>{escape(body)}</ins> ")
    return mark_safe("".join(before).strip()), mark_safe("".join(after).strip())


def marked_texts(
    older: str, newer: str, found: list[Difference], cues: list[Located]
) -> tuple[SafeString, SafeString]:
    """The two texts with the differing values (and the later one's change cues)
    marked; a word diff when no value can be placed in either text."""
    before = [(*where, "differs") for d in found for v in d.before if (where := _located(older, v))]
    after = [(*where, "differs") for d in found for v in d.after if (where := _located(newer, v))]
    if not before and not after:
        return _word_diff_sides(older, newer)
    after += [(*where, "cue") for cue in cues if (where := _located(newer, cue))]
    return mark_spans(older, before), mark_spans(newer, after)


# ------------------------------------------------------------------- cards


def _similarities(evidence: dict[str, Any]) -> str:
    found = evidence.get("similarity")
    if isinstance(found, int | float):
        return f"{found:.3f}"
    pairs = evidence.get("similarities")
    values = []
    if isinstance(pairs, list):
        values = [p["similarity"] for p in pairs if isinstance(p, dict) and "similarity" in p]
    elif isinstance(pairs, dict):
        values = list(pairs.values())
    values = [float(v) for v in values if isinstance(v, int | float)]
    if not values:
        return ""
    low, high = min(values), max(values)
    return f"{low:.3f}" if round(low, 3) == round(high, 3) else f"{low:.3f} to {high:.3f}"


def _outcome(card: Card, found: dict[UUID, Memory]) -> str:
    """What approving this proposal will do, in one or two sentences."""
    proposal = card.proposal
    change = proposal.change
    count = len(card.memories)
    if proposal.operation == Operation.SUPERSEDE:
        older, newer = (
            _named(found, change.get("superseded")),
            _named(found, change.get("by")),
        )
        ends = newer and (newer.valid_from or newer.occurred_at)
        since = f"from {ends:%Y-%m-%d}" if ends else "from the moment it is approved"
        return (
            f"{_quote(older)} is marked superseded by {_quote(newer)} {since}; "
            "its validity ends then. Undo restores it."
        )
    if proposal.operation == Operation.MERGE:
        return (
            f"the {count} memories become one with the text below; the originals are kept "
            "as history, superseded by it. Undo restores them."
        )
    if proposal.operation == Operation.LINK:
        links = len(card.related)
        return (
            f"{_quote(card.memories[0] if card.memories else None)} gets {links} "
            f"“related to” link{'s' if links != 1 else ''}, which graph search and the graph "
            "explorer follow. Undo removes them."
        )
    if proposal.operation == Operation.SUMMARY:
        text = f"a summary of {count} memories is added; they stay as they are"
        if card.sentences:
            text += ", and each sentence shows its sources"
        return text + ". Undo removes it."
    if proposal.operation == Operation.ENTITY:
        name, kind = change.get("name") or "this entity", change.get("kind") or "entity"
        mentions = len(card.mentions)
        return (
            f"the {kind} “{name}” is recorded, with {mentions} "
            f"mention{'s' if mentions != 1 else ''}."
        )
    return (
        f"{_quote(card.memories[0] if card.memories else None)} is archived: it leaves "
        "search results, and can be restored."
    )


def _wanted(proposal: Proposal) -> set[UUID]:
    """Every memory a proposal's card shows: its own, and those its change names."""
    change = proposal.change
    named: list[Any] = [*change.get("related_to", [])]
    for sentence in change.get("sentences") or []:
        if isinstance(sentence, dict):
            named += sentence.get("sources") or []
    for mention in change.get("mentions") or []:
        named.append(mention.get("memory") if isinstance(mention, dict) else mention)
    return set(proposal.memory_ids) | {pk for pk in map(_uuid, named) if pk}


def _cards(curator: Curator, proposals: list[Proposal]) -> list[Card]:
    wanted = set().union(*(_wanted(p) for p in proposals)) if proposals else set()
    found = (
        Memory.objects.for_space(curator.space)
        .filter(pk__in=wanted)
        .defer("embedding", "search_vector")
        .in_bulk()
    )
    return [_card(proposal, found) for proposal in proposals]


def _mention(mention: Any, found: dict[UUID, Memory]) -> tuple[Memory | None, SafeString]:
    """A memory that names the entity, the name marked where the mention says it is."""
    ref = mention.get("memory") if isinstance(mention, dict) else mention
    memory = _named(found, ref)
    if memory is None:
        text = mention.get("text", ref) if isinstance(mention, dict) else ref
        return None, escape(str(text))
    span = _span([mention.get("start"), mention.get("end")]) if isinstance(mention, dict) else None
    where = _located(memory.content, ("", span))
    return memory, mark_spans(memory.content, [(*where, "differs")] if where else [])


def _card(proposal: Proposal, found: dict[UUID, Memory]) -> Card:
    change, evidence = proposal.change, proposal.evidence
    involved = [found[pk] for pk in proposal.memory_ids if pk in found]
    card = Card(proposal, involved, similarity=_similarities(evidence))
    cues = change_cues(evidence)
    card.cues = [text for text, _ in cues]
    pairs = evidence.get("similarities")
    first = pairs[0] if isinstance(pairs, list) and pairs and isinstance(pairs[0], dict) else {}
    card.reason = str(evidence.get("reason") or first.get("reason") or "")
    if proposal.operation == Operation.MERGE:
        kept = str(change.get("content", ""))
        card.previews = [(m, render_word_diff(m.content, kept)) for m in involved]
    elif proposal.operation == Operation.SUPERSEDE:
        older = _named(found, change.get("superseded"))
        newer = _named(found, change.get("by"))
        if older and newer:
            card.differences = differences(evidence)
            before, after = marked_texts(older.content, newer.content, card.differences, cues)
            card.sides = [Side(older, "Earlier", before), Side(newer, "Later", after)]
    elif proposal.operation == Operation.LINK:
        similarities = evidence.get("similarities", {})
        similarities = similarities if isinstance(similarities, dict) else {}
        card.related = [
            (found[pk], float(similarities.get(str(pk), 0.0)))
            for pk in map(_uuid, change.get("related_to", []))
            if pk in found
        ]
    elif proposal.operation == Operation.SUMMARY:
        for sentence in change.get("sentences") or []:
            if isinstance(sentence, dict) and sentence.get("text"):
                named = map(_uuid, sentence.get("sources") or [])
                sources = [found[pk] for pk in named if pk in found]
                card.sentences.append((str(sentence["text"]), sources))
    elif proposal.operation == Operation.ENTITY:
        card.mentions = [_mention(mention, found) for mention in change.get("mentions") or []]
        reasons = evidence.get("reasons")
        if isinstance(reasons, list) and not card.reason:
            card.reason = "; ".join(str(reason) for reason in reasons)
    card.outcome = _outcome(card, found)
    return card


# ------------------------------------------------------------------- the queue


def _queue(curator: Curator, form: QueueForm) -> Any:
    proposals = Proposal.objects.for_space(curator.space)
    data = form.cleaned_data if form.is_valid() else {}
    proposals = proposals.filter(status=data.get("status") or Proposal.Status.PENDING)
    if data.get("operation"):
        proposals = proposals.filter(operation=data["operation"])
    if data.get("min_score") is not None:
        proposals = proposals.filter(score__gte=data["min_score"])
    return proposals.order_by("-score", "pk")


def _consolidation_job(curator: Curator, wanted: str | None) -> Job | None:
    """The consolidation job the panel shows: the one asked for (?job=), else the
    latest one still running in this space."""
    jobs = Job.objects.for_space(curator.space).filter(kind=CONSOLIDATE)
    if wanted and wanted.isdigit():
        return jobs.filter(pk=int(wanted)).first()
    return jobs.running().order_by("-created_at").first()


def _job_findings(job: Job) -> list[tuple[str, int, int]]:
    """(operation, proposed, applied by policy) for each step the job has finished."""
    labels = {**dict(Operation.choices), consolidation.ENTITIES: "Entities"}
    findings = []
    for operation in consolidation.ALL_OPERATIONS:
        # Steps that found nothing are left out: the panel says what is new.
        if job.counts.get(f"{operation}_proposed") or job.counts.get(f"{operation}_applied"):
            findings.append(
                (
                    labels.get(operation, operation),
                    int(job.counts[f"{operation}_proposed"]),
                    int(job.counts.get(f"{operation}_applied", 0)),
                )
            )
    return findings


def _panel(
    request: HtmxHttpRequest, curator: Curator, job: Job | None, notes: list[Any] | None = None
) -> HttpResponse:
    context = {
        "curator": curator,
        "job": job,
        "findings": _job_findings(job) if job else [],
        "notes": notes or [],
        # Polled to its end: the card list below reloads itself once.
        "just_finished": bool(request.htmx) and job is not None,
    }
    return render(request, "dashboard/review_job.html", context)


@require_GET
@space_page()
def queue(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    job = _consolidation_job(curator, request.GET.get("job"))
    if request.htmx and request.htmx.target == "consolidation-panel":
        return _panel(request, curator, job)
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
        "total": len(shown) if len(shown) < PAGE else proposals.count(),
        "page": PAGE,
        "pending": [(label, pending[op]) for op, label in Operation.choices if pending.get(op)],
        "operations": dict(Operation.choices),
        "job": job,
        "findings": _job_findings(job) if job else [],
    }
    status = 200 if form.is_valid() else 400
    if request.htmx and request.htmx.target == "review-queue":
        return render(request, "dashboard/review.html#queue", context, status=status)
    return render(request, "dashboard/review.html", context, status=status)


def _proposal_or_404(curator: Curator, proposal_id: int) -> Proposal:
    found = Proposal.objects.for_space(curator.space).filter(pk=proposal_id).first()
    if found is None:
        raise Http404("No such proposal in this space")
    return found


def _decided(request: HtmxHttpRequest, curator: Curator, proposal: Proposal) -> HttpResponse:
    """After a decision: for htmx, the card alone, fresh, with what happened said on it
    (not left for the next page); otherwise back to the queue."""
    if request.htmx:
        fresh = Proposal.objects.for_space(curator.space).get(pk=proposal.pk)
        context = {
            "card": _cards(curator, [fresh])[0],
            "curator": curator,
            "notes": list(messages.get_messages(request)),
        }
        return render(request, "dashboard/review_card.html", context)
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


def _chosen(curator: Curator, data: dict[str, Any]) -> list[Proposal]:
    """The pending proposals a bulk decision covers: those ticked, narrowed by the
    operation and the score when given."""
    chosen = Proposal.objects.for_space(curator.space).filter(status=Proposal.Status.PENDING)
    if data.get("ids"):
        chosen = chosen.filter(pk__in=data["ids"])
    if data.get("operation"):
        chosen = chosen.filter(operation=data["operation"])
    if data.get("min_score") is not None:
        chosen = chosen.filter(score__gte=data["min_score"])
    return list(chosen.order_by("-score", "pk"))


def _decide_all(curator: Curator, chosen: list[Proposal], decision: str) -> str:
    """Apply or reject each proposal, and say how it went: a proposal whose memories
    changed since is left alone and re-checked (back in the queue with fresh evidence,
    retired, or stale when it cannot be judged now); its card says why."""
    done = 0
    refused = []
    for proposal in chosen:
        try:
            if decision == "reject":
                consolidation.reject(proposal, curator.actor, reason="rejected in bulk")
            else:
                consolidation.apply(proposal, curator.actor)
            done += 1
        except consolidation.ProposalError:
            refused.append(proposal.pk)
    outcomes = Counter(
        Proposal.objects.for_space(curator.space)
        .filter(pk__in=refused)
        .values_list("status", flat=True)
    )
    # Refused while still pending, a proposal was decided by someone else meanwhile;
    # the others changed since they were proposed and were re-checked just now.
    changed = sum(outcomes[s] for s in (Proposal.Status.STALE, Proposal.Status.RETIRED))
    rechecked_back = outcomes[Proposal.Status.PENDING] if decision != "reject" else 0
    changed += rechecked_back
    others = len(refused) - changed
    text = f"{'Rejected' if decision == 'reject' else 'Applied'} {done} of {len(chosen)}."
    if changed:
        parts = [
            f"{count} {label}"
            for count, label in (
                (rechecked_back, "still hold and are back in the queue with fresh evidence"),
                (outcomes[Proposal.Status.RETIRED], "no longer hold and were retired"),
                (outcomes[Proposal.Status.STALE], "are stale until they can be re-checked"),
            )
            if count
        ]
        text += (
            f" {changed} had changed since they were proposed and were left alone; "
            f"re-checked: {', '.join(parts)}."
        )
    if others:
        text += f" {others} had been decided meanwhile."
    return text


@require_POST
@space_page(Role.EDITOR)
def approve_many(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    """Approve (or reject) many pending proposals: those ticked, or those of an
    operation at or above a score, after a confirmation that says how many."""
    form = BulkApproveForm(request.POST)
    back = reverse("dashboard:review", args=[curator.space.slug])
    if not form.is_valid():
        context = {"form": form, "count": 0, "back": back}
        return render(request, "dashboard/review_confirm.html", context, status=400)
    data = form.cleaned_data
    chosen = _chosen(curator, data)
    if not data["confirmed"]:
        by_operation: dict[str, int] = {}
        for proposal in chosen:
            label = proposal.get_operation_display()
            by_operation[label] = by_operation.get(label, 0) + 1
        hidden = [
            (key, value)
            for key, values in request.POST.lists()
            if key not in ("csrfmiddlewaretoken", "confirmed")
            for value in values
        ]
        context = {
            "form": form,
            "decision": data["decision"],
            "count": len(chosen),
            "by_operation": sorted(by_operation.items()),
            "hidden": hidden,
            "back": back,
        }
        return render(request, "dashboard/review_confirm.html", context)
    if chosen:
        messages.success(request, _decide_all(curator, chosen, data["decision"]))
    else:
        messages.info(request, "Nothing left to decide: they were decided meanwhile.")
    return go_to(request, back)


@require_POST
@space_page(Role.EDITOR)
def run(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    """Start a consolidation job. htmx swaps in a panel that follows the job; without
    JavaScript, the review page shows the same panel."""
    running = _consolidation_job(curator, None)
    if running is not None:
        # A second run would judge the same memories again while the first proposes.
        messages.info(request, "Already consolidating this space: following that job.")
        job: Job | None = running
    else:
        job = queue_job(
            request, lambda: consolidation.start_consolidation(curator.space), "consolidation"
        )
    if request.htmx:
        # The broker's refusal, if any, is said in the panel rather than on a later page.
        return _panel(request, curator, job, notes=list(messages.get_messages(request)))
    back = reverse("dashboard:review", args=[curator.space.slug])
    if job is None:
        return redirect(back)
    messages.success(request, "Consolidating this space: new proposals appear as it finds them.")
    return redirect(f"{back}?job={job.pk}")


def _changed_since_apply(conflict: consolidation.UndoConflict) -> str:
    """The 409's details in a sentence: which memory, which versions, by whom."""
    said = []
    for change in conflict.details["changed"]:
        memory = str(change["id"])[:8]
        if change["purged"]:
            said.append(f"memory {memory} was purged")
            continue
        edits = ", ".join(
            f"v{edit['version']} {edit['action']} by {edit['by']}"
            + (f" ({', '.join(edit['fields'])})" if edit["fields"] else "")
            for edit in change["changes"]
        )
        said.append(
            f"memory {memory} is at version {change['version_now']}, "
            f"not {change['version_at_apply']}: {edits}"
        )
    return "; ".join(said)


@require_POST
@space_page(Role.EDITOR)
def undo(request: HtmxHttpRequest, curator: Curator, proposal_id: int) -> HttpResponse:
    """Take back an applied proposal. From a memory's page (`memory` posted), the
    curator goes back to that page; otherwise to the card, like approve."""
    proposal = _proposal_or_404(curator, proposal_id)
    try:
        consolidation.undo(proposal, curator.actor)
    except consolidation.UndoConflict as conflict:
        messages.error(
            request,
            f"Not undone: the memories changed since it was applied "
            f"({_changed_since_apply(conflict)}).",
        )
    except consolidation.ProposalError as refused:
        messages.error(request, f"Not undone: {refused.message}.")
    else:
        messages.success(
            request,
            f"Undone: {proposal.get_operation_display().lower()}. It can be applied again.",
        )
    try:
        memory_id = UUID(request.POST.get("memory", ""))
    except ValueError:
        return _decided(request, curator, proposal)
    return go_to(request, reverse("dashboard:memory", args=[curator.space.slug, memory_id]))
