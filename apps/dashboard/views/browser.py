"""The memory browser: search and filters in the URL, infinite scroll, bulk actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.functions import Left
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.api.errors import ApiError
from apps.api.pagination import decode_cursor, encode_cursor
from apps.core import replicas
from apps.core.params import InvalidParameter, parse_instant, parse_int
from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.forms import BULK_ACTIONS, BrowseForm, BulkForm
from apps.dashboard.services import BULK_LIMIT, NothingToUndo, apply_bulk, undo_bulk_event
from apps.dashboard.subjects import space_subjects
from apps.hygiene.marks import attach_open_flags
from apps.memories.models import Memory
from apps.retrieval.search import MAX_K, search
from apps.spaces.models import Membership, Role

PAGE = 50
# Enough of the text for a snippet; the rest of a long memory stays in the database.
SNIPPET_SOURCE_CHARS = 600
# ?weak=show lists the weak matches of a search too (see Hit.is_weak).
SHOW_WEAK = "show"


def _listing(queryset: QuerySet[Memory]) -> QuerySet[Memory]:
    return (
        queryset.defer("embedding", "search_vector", "content", "metadata")
        .annotate(snippet_source=Left("content", SNIPPET_SOURCE_CHARS))
        .order_by("-created_at", "-pk")
    )


def _state(request: HttpRequest, **changes: Any) -> str:
    """The current query string with `changes` applied (None removes a key)."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@require_GET
@space_page()
def browse(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = BrowseForm(request.GET)
    rows: list[Memory] = []
    next_query: str | None = None
    notice = ""
    query = ""
    matches: Matches | None = None
    if form.is_valid():
        query = form.query()
        filters = form.filters()
        if query:
            rows, next_query, notice, matches = _search_page(request, curator, form, query)
        else:
            memories = Memory.objects.for_space(curator.space).using(replicas.for_reading(request))
            rows, next_query = _list_page(request, curator, filters.apply(memories))
            if not rows and not request.GET.get("cursor"):
                notice = (
                    "No memories match these filters."
                    if any(v for k, v in request.GET.items() if k != "mode")
                    else "This space has no memories yet. Agents add them through the API."
                )
    attach_open_flags(curator.space, rows)
    context = {
        "form": form,
        "rows": rows,
        "query": query,
        "next_query": next_query,
        "notice": notice,
        "matches": matches,
        "weak_floor": settings.SEARCH_WEAK_SIMILARITY,
        "show_weak_query": _state(request, cursor=None, offset=None, weak=SHOW_WEAK),
        "hide_weak_query": _state(request, cursor=None, offset=None, weak=None),
        "state": _state(request, cursor=None, offset=None),
        "bulk_actions": BULK_ACTIONS,
    }
    if request.htmx and (request.GET.get("cursor") or request.GET.get("offset")):
        return render(request, "dashboard/browser.html#rows", context)
    context["subjects"] = space_subjects(curator.space)
    return render(request, "dashboard/browser.html", context)


def _list_page(
    request: HttpRequest, curator: Curator, queryset: QuerySet[Memory]
) -> tuple[list[Memory], str | None]:
    listing = _listing(queryset)
    cursor = request.GET.get("cursor")
    if cursor:
        try:
            raw_created_at, pk = decode_cursor(cursor)
            created_at = parse_instant(str(raw_created_at), "cursor")
            listing = listing.filter(created_at__lte=created_at).exclude(
                created_at=created_at, pk__gte=pk
            )
        except (ApiError, ValidationError, ValueError, TypeError):
            cursor = None  # a mangled link starts over at the top
    rows = list(listing[: PAGE + 1])
    next_query = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        next_query = _state(request, cursor=encode_cursor(rows[-1].created_at, rows[-1].pk))
    return rows, next_query


@dataclass
class Matches:
    """What a page of search results says of itself: how many matched, and how many
    weak matches (found by meaning alone, and by little of it) it left out."""

    count: int
    more: bool  # further pages may hold more
    weak_hidden: int
    weak_shown: bool


def _shows_weak(request: HttpRequest) -> bool:
    return request.GET.get("weak", request.POST.get("weak", "")) == SHOW_WEAK


def _search_page(
    request: HttpRequest, curator: Curator, form: BrowseForm, query: str
) -> tuple[list[Memory], str | None, str, Matches]:
    try:
        offset = parse_int(
            request.GET.get("offset", "0"), "offset", minimum=0, maximum=MAX_K - PAGE
        )
    except InvalidParameter:
        offset = 0  # a mangled link starts over at the first result
    result = search(
        curator.space,
        query,
        mode=form.cleaned_data.get("mode") or "hybrid",
        k=offset + PAGE,
        filters=form.filters(),
        # A curator looking is not the agent recalling: strength and retention stay.
        record_access=False,
        using=replicas.for_reading(request),
    )
    show_weak = _shows_weak(request)
    page = result.hits[offset:]
    kept = [hit for hit in page if show_weak or not hit.is_weak()]
    rows = []
    for hit in kept:
        memory = hit.memory
        memory.snippet_source = memory.content[:SNIPPET_SOURCE_CHARS]  # type: ignore[attr-defined]
        memory.search_score = hit.score  # type: ignore[attr-defined]
        memory.search_similarity = hit.similarity  # type: ignore[attr-defined]
        memory.search_weak = hit.is_weak()  # type: ignore[attr-defined]
        rows.append(memory)
    # A vector search ranks every memory; once a page is all weak matches, the rest
    # of the ranking is weaker still, so the list ends there.
    more = len(result.hits) == offset + PAGE and offset + PAGE < MAX_K and bool(kept)
    next_query = _state(request, offset=str(offset + PAGE)) if more else None
    matches = Matches(
        count=len(kept),
        more=more,
        weak_hidden=len(page) - len(kept),
        weak_shown=show_weak and any(hit.is_weak() for hit in page),
    )
    notice = result.notice
    if result.hits and not kept and not offset:
        notice = "Nothing matched well: only weak matches were found."
    return rows, next_query, notice, matches


@dataclass
class Targets:
    """The memories a bulk request names."""

    ids: list[str]
    too_many: bool = False  # more than BULK_LIMIT: nothing is done
    best_of_search: str = ""  # "all matching" a search: its best MAX_K hits, not all


def _targets(request: HttpRequest, curator: Curator) -> Targets:
    if request.POST.get("all_matching"):
        browse_form = BrowseForm(request.POST)
        if not browse_form.is_valid():
            return Targets([])
        query = browse_form.query()
        if query:
            result = search(
                curator.space,
                query,
                mode=browse_form.cleaned_data.get("mode") or "hybrid",
                k=MAX_K,
                filters=browse_form.filters(),
                record_access=False,
            )
            # A search ranks; it has no "all". Say so when the ranking was cut.
            cut = query if len(result.hits) == MAX_K else ""
            # "All matching" is what the list showed: without the weak matches it hid.
            shown = [h for h in result.hits if _shows_weak(request) or not h.is_weak()]
            return Targets([str(hit.memory.pk) for hit in shown], best_of_search=cut)
        matching = browse_form.filters().apply(Memory.objects.for_space(curator.space))
        ids = [str(pk) for pk in matching.values_list("pk", flat=True)[: BULK_LIMIT + 1]]
        return Targets(ids[:BULK_LIMIT], too_many=len(ids) > BULK_LIMIT)
    wanted = request.POST.getlist("ids")[: BULK_LIMIT + 1]
    valid = []
    for raw in wanted:
        try:
            valid.append(str(Memory._meta.pk.to_python(raw)))
        except Exception:
            continue  # not an id: nothing to act on
    found = (
        Memory.objects.for_space(curator.space).filter(pk__in=valid).values_list("pk", flat=True)
    )
    return Targets([str(pk) for pk in found][:BULK_LIMIT], too_many=len(wanted) > BULK_LIMIT)


def _return_to(request: HttpRequest, curator: Curator) -> str:
    """Where a bulk action sends the curator back to: the page it came from (the
    browser, or the map) when that is a page of this space, else the browser."""
    wanted = request.POST.get("return_to", "")
    if wanted.startswith(f"/s/{curator.space.slug}/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts=None
    ):
        return wanted
    return reverse("dashboard:browse", args=[curator.space.slug])


@require_POST
@space_page(Role.EDITOR)
def bulk(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    form = BulkForm(request.POST)
    back = _return_to(request, curator)
    state = request.POST.get("state", "")
    if state:
        back = f"{back}?{state}"
    if not form.is_valid():
        return render(
            request,
            "dashboard/bulk_confirm.html",
            {"form": form, "count": 0, "back": back, "post": request.POST},
            status=422,
        )
    targets = _targets(request, curator)
    ids, too_many = targets.ids, targets.too_many
    action = form.cleaned_data["action"]
    if not form.cleaned_data["confirmed"] or too_many or not ids:
        return render(
            request,
            "dashboard/bulk_confirm.html",
            {
                "form": form,
                "count": len(ids),
                "too_many": too_many,
                "best_of_search": targets.best_of_search,
                "ranked_limit": MAX_K,
                "limit": BULK_LIMIT,
                "verb": BULK_ACTIONS[action].lower(),
                "tag": form.cleaned_data.get("bulk_tag", ""),
                "back": back,
                "post": _without(request.POST, "confirmed"),
            },
        )
    outcome = apply_bulk(
        curator.space, curator.actor, action, ids, form.cleaned_data["bulk_tag"].strip()
    )
    text = f"{BULK_ACTIONS[action]}: {outcome.changed} of {len(ids)} memories."
    if outcome.skipped:
        text += f" {len(outcome.skipped)} skipped ({outcome.skipped[0]['reason']})."
    if outcome.event is not None:
        # The same Undo stays on the action's entry in the audit log.
        messages.success(request, text, extra_tags=f"undo:{outcome.event.pk}")
    else:
        messages.success(request, text)
    return go_to(request, back)


@require_POST
@space_page(Role.EDITOR)
def undo(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    """Undo a bulk action named by its audit event (`token`), from the message shown
    after it or from its entry in the audit log; back to where the button was."""
    back = _return_to(request, curator)
    try:
        event_id = int(request.POST.get("token", ""))
    except ValueError:
        messages.error(request, "There is nothing to undo any more.")
        return go_to(request, back)
    try:
        outcome = undo_bulk_event(curator.space, curator.actor, event_id)
    except NothingToUndo as nothing:
        messages.error(request, nothing.message)
        return go_to(request, back)
    text = f"Undone for {outcome.changed} memor{'y' if outcome.changed == 1 else 'ies'}."
    if outcome.skipped:
        text += (
            f" {len(outcome.skipped)} changed since and were left as they are: "
            + "; ".join(outcome.changed_since)
            + ("; …" if len(outcome.skipped) > len(outcome.changed_since) else "")
            + "."
        )
    level = messages.SUCCESS if outcome.changed else messages.WARNING
    messages.add_message(request, level, text)
    return go_to(request, back)


def _without(post: QueryDict, *keys: str) -> list[tuple[str, str]]:
    return [(k, v) for k, values in post.lists() if k not in keys for v in values]


@require_GET
@login_required
def switch(request: HttpRequest) -> HttpResponse:
    """The space switcher's target: a GET form, so it works without JavaScript too."""
    slug = request.GET.get("space", "")
    if not Membership.objects.filter(user_id=request.user.pk or 0, space__slug=slug).exists():
        return redirect("home")
    return redirect("dashboard:home", slug)
