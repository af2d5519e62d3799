"""/api/v1/episodes (conversation input), /api/v1/search and the feedback on what a
search returned, /api/v1/recalls/{id}/feedback."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.errors import ApiError
from apps.api.idempotency import run_once
from apps.api.views.base import SpaceScopedViewSet, log_episode_reads, log_reads
from apps.api.views.memories import IDEMPOTENCY_KEY
from apps.api.views.receipts import created_episodes, written_memories
from apps.core import replicas
from apps.hygiene.marks import hit_marks, open_flags_by_memory
from apps.memories import services
from apps.memories.models import Episode
from apps.retrieval.search import Filters, Weights, search
from apps.spaces.models import Scope


class EpisodeViewSet(SpaceScopedViewSet):
    serializer_class = s.EpisodeSerializer
    lookup_value_regex = "[^/]+"
    query_params = {
        "list": frozenset({"session", "speaker", "occurred_after", "occurred_before"}),
    }
    cursor_field = "occurred_at"

    def get_queryset(self) -> QuerySet[Episode]:
        return Episode.objects.for_space(self.space)

    @extend_schema(
        parameters=[
            OpenApiParameter("session", str),
            OpenApiParameter("speaker", str),
            OpenApiParameter("occurred_after", str, description="ISO 8601 date-time"),
            OpenApiParameter("occurred_before", str, description="ISO 8601 date-time"),
        ],
        responses=s.EpisodeSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        episodes = self.get_queryset().using(replicas.for_reading(request))
        for name in ("session", "speaker"):
            if name in request.query_params:
                episodes = episodes.filter(**{name: request.query_params[name]})
        after, before = self.date_param("occurred_after"), self.date_param("occurred_before")
        if after:
            episodes = episodes.filter(occurred_at__gte=after)
        if before:
            episodes = episodes.filter(occurred_at__lt=before)
        page = self.page(episodes)
        log_episode_reads(self.caller, (e.pk for e in page))
        return self.get_paginated_response(s.EpisodeSerializer(page, many=True).data)

    @extend_schema(responses=s.EpisodeSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        episode: Episode = self.get_object()
        log_episode_reads(self.caller, [episode.pk])
        return Response(s.EpisodeSerializer(episode).data)

    @extend_schema(
        request=s.EpisodesRequestSerializer,
        responses={201: s.EpisodesResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description="Store a batch of conversation messages as episodes; with remember=true "
        "each also becomes an episodic memory derived from it, chained in time per session.",
    )
    def create(self, request: Request) -> Response:
        return run_once(request, self.caller, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        messages = request.data.get("messages") if isinstance(request.data, dict) else None
        if isinstance(messages, list) and len(messages) > settings.API_MAX_BATCH:
            raise ApiError(
                413,
                "batch_too_large",
                f"{len(messages)} messages; a request holds at most {settings.API_MAX_BATCH}",
                {"messages": len(messages), "limit": settings.API_MAX_BATCH},
            )
        body = s.EpisodesRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cleaned: list[dict[str, Any]] = []
        errors: dict[str, Any] = {}
        for index, message in enumerate(body.validated_data["messages"]):
            one = s.EpisodeInputSerializer(data=message)
            if one.is_valid():
                cleaned.append(
                    {"session": body.validated_data.get("session", ""), **one.validated_data}
                )
            else:
                errors[str(index)] = one.errors
        if errors:
            raise ApiError(
                400,
                "invalid_request",
                f"{len(errors)} messages are not valid; nothing was stored",
                {"messages": errors},
            )
        episodes, memories = services.remember_conversation(
            self.space, self.actor, cleaned, remember=body.validated_data["remember"]
        )
        return Response(
            {
                "episodes": created_episodes(self.caller, episodes),
                "memories": written_memories(self.caller, memories, via=None),
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(responses=s.MemorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def memories(self, request: Request, pk: str) -> Response:
        """The memories derived from this episode."""
        episode: Episode = self.get_object()
        memories = list(episode.memories.defer("embedding", "search_vector").order_by("created_at"))
        log_reads(self.caller, (m.pk for m in memories), "episode")
        return Response({"results": s.MemorySerializer(memories, many=True).data})


class SearchViewSet(SpaceScopedViewSet):
    # A search is a read sent as a POST: it needs memories:read, not memories:write.
    action_scopes = {"create": Scope.MEMORIES_READ}

    @extend_schema(
        request=s.SearchRequestSerializer,
        responses=s.SearchResponseSerializer,
        description="Hybrid (default), vector or text search in the caller's space. The "
        "memories returned are recorded as recalled (their access log and strength).",
    )
    def create(self, request: Request) -> Response:
        body = s.SearchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        given = data.get("filters", {})
        filters = Filters(
            subject=given.get("subject"),
            agent=given.get("agent"),
            session=given.get("session"),
            kinds=given.get("kind", []),
            tags=given.get("tags", []),
            statuses=given.get("status", []),
            occurred_after=given.get("occurred_after"),
            occurred_before=given.get("occurred_before"),
            created_after=given.get("created_after"),
            created_before=given.get("created_before"),
            as_of=data.get("as_of"),
            exclude_flagged=given.get("exclude_flagged", False),
        )
        weights = Weights.from_settings()
        for name, value in data.get("weights", {}).items():
            setattr(weights, name, value)
        result = search(
            self.space,
            data["query"],
            mode=data["mode"],
            k=data["k"],
            filters=filters,
            weights=weights,
            actor=self.actor,
            vector=data.get("vector"),
            using=replicas.for_reading(request),
        )
        # A POST for its body: its caller's next reads need not come from the primary.
        replicas.reads_only(request)
        memories = [hit.memory for hit in result.hits]
        # One serializer pass for all hits: their episodes in one query.
        serialized = s.MemorySerializer(memories, many=True).data
        flags = open_flags_by_memory(self.space, [m.pk for m in memories])
        hits = []
        for hit, memory in zip(result.hits, serialized, strict=True):
            entry: dict[str, Any] = {
                "memory": memory,
                "score": round(hit.score, 6),
                "flags": hit_marks(flags.get(hit.memory.pk, [])),
            }
            if data["explain"]:
                entry["explain"] = hit.components
            hits.append(entry)
        return Response(
            {
                "query": result.query,
                "mode": result.mode,
                "embed_ms": round(result.embed_ms, 2),
                "db_ms": round(result.db_ms, 2),
                "notice": result.notice,
                "recall_id": str(result.recall_id) if result.recall_id else None,
                "hits": hits,
            }
        )


class RecallViewSet(SpaceScopedViewSet):
    """A recall is a search whose hits were recorded; its id comes with the search's
    answer. Only the caller's space's recalls exist for it."""

    # Anything in the path: an id that is not a UUID is a recall not found, not a route.
    lookup_value_regex = "[^/]+"
    # Whoever may search may say what the search was worth.
    action_scopes = {"feedback": Scope.MEMORIES_READ}

    @extend_schema(
        request=s.RecallFeedbackRequestSerializer,
        responses=s.RecallFeedbackResponseSerializer,
        parameters=[IDEMPOTENCY_KEY],
        description="Mark hits of a recall useful or not useful, with an optional note. "
        "Every id must be a hit of that recall (422 not_in_recall otherwise, and nothing "
        "is stored). Marking a hit again replaces its verdict and note. A useful hit gains "
        "one strength on its first useful mark in the recall, as a recall does.",
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, pk: str) -> Response:
        return run_once(request, self.caller, lambda: self._feedback(request, pk))

    def _feedback(self, request: Request, pk: str) -> Response:
        body = s.RecallFeedbackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        recorded = services.record_feedback(
            self.space,
            self.actor,
            pk,
            useful=data["useful"],
            not_useful=data["not_useful"],
            note=data["note"],
        )
        return Response(
            {
                "recall_id": str(recorded.recall.pk),
                "query": recorded.recall.query,
                "marks": [
                    {
                        "memory": str(mark.memory_id),
                        "verdict": mark.verdict,
                        "note": mark.note,
                        "strength": recorded.strengths[mark.memory_id],
                    }
                    for mark in recorded.marks
                ],
            }
        )
