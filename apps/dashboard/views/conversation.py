"""Conversations as agents sent them: the space's sessions, and each session's
transcript with the memories derived from every message beside it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet
from django.db.models.functions import Left
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from apps.api.errors import ApiError
from apps.api.pagination import decode_cursor, encode_cursor
from apps.core.params import InvalidParameter, parse_instant
from apps.dashboard.access import Curator, space_page
from apps.memories.models import Episode, Memory


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it, so type checkers know `.htmx`."""

    htmx: HtmxDetails


SESSIONS_PAGE = 100
# A long session is read in pages so one request never loads thousands of messages.
TRANSCRIPT_PAGE = 300
MEMORY_SNIPPET_CHARS = 160


def _cursor(raw: str) -> tuple[datetime, str] | None:
    """A (time, key) cursor this page gave out, or None for a missing or mangled one
    (a mangled link starts over at the beginning rather than failing)."""
    if not raw:
        return None
    try:
        value, key = decode_cursor(raw)
    except ApiError:
        return None
    try:
        return parse_instant(str(value), "cursor"), key
    except InvalidParameter:
        return None


# ------------------------------------------------------------------ sessions


def _session_summaries(curator: Curator) -> QuerySet[Episode, dict[str, Any]]:
    """One row per session, aggregated in SQL: a space can hold thousands of them."""
    return (
        Episode.objects.for_space(curator.space)
        .exclude(session="")
        .values("session")
        .annotate(
            messages=Count("pk"),
            speakers=ArrayAgg("speaker", distinct=True, filter=~Q(speaker=""), default=[]),
            first_at=Min("occurred_at"),
            last_at=Max("occurred_at"),
        )
        .order_by("-last_at", "session")
    )


@require_GET
@space_page()
def sessions(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    summaries = _session_summaries(curator)
    after = _cursor(request.GET.get("cursor", ""))
    if after is not None:
        last_at, session = after
        summaries = summaries.filter(
            Q(last_at__lt=last_at) | Q(last_at=last_at, session__gt=session)
        )
    rows = list(summaries[: SESSIONS_PAGE + 1])
    next_cursor = None
    if len(rows) > SESSIONS_PAGE:
        rows = rows[:SESSIONS_PAGE]
        next_cursor = encode_cursor(rows[-1]["last_at"], rows[-1]["session"])
    for row in rows:
        row["url"] = reverse("dashboard:session", args=[curator.space.slug, row["session"]])
    context = {
        "nav": "sessions",
        "rows": rows,
        "next_cursor": next_cursor,
        "paged": after is not None,
    }
    if request.htmx and after is not None:
        return render(request, "dashboard/sessions.html#rows", context)
    return render(request, "dashboard/sessions.html", context)


# ------------------------------------------------------------------ one session


def _derived_memories(curator: Curator) -> QuerySet[Memory]:
    return (
        Memory.objects.for_space(curator.space)
        .only("id", "kind", "status", "subject", "created_at")
        .annotate(snippet=Left("content", MEMORY_SNIPPET_CHARS))
        .order_by("created_at", "pk")
    )


def _transcript(curator: Curator, session: str) -> QuerySet[Episode]:
    return (
        Episode.objects.for_space(curator.space)
        .filter(session=session)
        .order_by("occurred_at", "pk")
        .prefetch_related(
            Prefetch("memories", queryset=_derived_memories(curator), to_attr="derived")
        )
    )


@require_GET
@space_page()
def session(request: HttpRequest, curator: Curator, session: str) -> HttpResponse:
    facts = (
        Episode.objects.for_space(curator.space)
        .filter(session=session)
        .aggregate(
            messages=Count("pk"),
            speakers=ArrayAgg("speaker", distinct=True, filter=~Q(speaker=""), default=[]),
            agents=ArrayAgg("agent", distinct=True, filter=~Q(agent=""), default=[]),
            first_at=Min("occurred_at"),
            last_at=Max("occurred_at"),
        )
    )
    if not facts["messages"]:
        raise Http404("No such session in this space")
    episodes = _transcript(curator, session)
    after = _cursor(request.GET.get("cursor", ""))
    if after is not None:
        moment, key = after
        try:
            episodes = episodes.filter(
                Q(occurred_at__gt=moment) | Q(occurred_at=moment, pk__gt=key)
            )
        except (ValidationError, ValueError):
            after = None  # not an episode id: start at the beginning
            episodes = _transcript(curator, session)
    rows = list(episodes[: TRANSCRIPT_PAGE + 1])
    next_cursor = None
    if len(rows) > TRANSCRIPT_PAGE:
        rows = rows[:TRANSCRIPT_PAGE]
        next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].pk)
    context = {
        "nav": "sessions",
        "session": session,
        "facts": facts,
        "episodes": rows,
        "next_cursor": next_cursor,
        "paged": after is not None,
        "memories_of_session": reverse("dashboard:browse", args=[curator.space.slug])
        + "?"
        + urlencode({"session": session, "status": "any"}),
    }
    return render(request, "dashboard/session.html", context)


# ------------------------------------------------------------------ one episode


def _page_start_for(curator: Curator, episode: Episode) -> str:
    """The cursor of the transcript page that holds `episode`, or "" for the first page.

    Pages are cut where "Later messages" cuts them, so a deep link shows the same page,
    with the same neighbouring messages, as reading the transcript from the start does.
    """
    earlier = (
        Episode.objects.for_space(curator.space)
        .filter(session=episode.session)
        .filter(
            Q(occurred_at__lt=episode.occurred_at)
            | Q(occurred_at=episode.occurred_at, pk__lt=episode.pk)
        )
        .order_by("occurred_at", "pk")
    )
    position = earlier.count()
    page_start = position - position % TRANSCRIPT_PAGE
    if page_start == 0:
        return ""
    last_of_previous_page = earlier.only("pk", "occurred_at")[page_start - 1]
    return encode_cursor(last_of_previous_page.occurred_at, last_of_previous_page.pk)


@require_GET
@space_page()
def episode(request: HttpRequest, curator: Curator, episode_id: Any) -> HttpResponse:
    found = (
        Episode.objects.for_space(curator.space)
        .filter(pk=episode_id)
        .prefetch_related(
            Prefetch("memories", queryset=_derived_memories(curator), to_attr="derived")
        )
        .first()
    )
    if found is None:
        raise Http404("No such episode in this space")
    if found.session:
        url = reverse("dashboard:session", args=[curator.space.slug, found.session])
        cursor = _page_start_for(curator, found)
        if cursor:
            url += "?" + urlencode({"cursor": cursor})
        return redirect(f"{url}#e-{found.pk}")
    return render(request, "dashboard/session_episode.html", {"nav": "sessions", "episode": found})
