"""/api/v1/links, /api/v1/entities, /api/v1/graph and /api/v1/audit."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.errors import ApiError
from apps.api.views.base import SpaceScopedViewSet, log_reads
from apps.audit.models import AuditEvent
from apps.core import replicas
from apps.core.params import parse_int
from apps.memories import services
from apps.memories.graph import (
    DEFAULT_NODE_CAP,
    EDGE_TYPES,
    MAX_HOPS,
    MAX_NODE_CAP,
    GraphError,
    NodeRef,
    neighbourhood,
)
from apps.memories.models import Entity, Link, LinkType, Memory

LINK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class LinkViewSet(SpaceScopedViewSet):
    read_audit = "link"
    serializer_class = s.LinkSerializer
    query_params = {"list": frozenset({"memory", "source", "target", "type"})}

    def get_queryset(self) -> QuerySet[Link]:
        return Link.objects.for_space(self.space)

    @extend_schema(
        parameters=[
            OpenApiParameter("memory", str, description="links from or to this memory"),
            OpenApiParameter("source", str),
            OpenApiParameter("target", str),
            OpenApiParameter("type", str, enum=LinkType.values),
        ],
        responses=s.LinkSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        links = self.get_queryset().using(replicas.for_reading(request))
        params = request.query_params
        if "type" in params:
            links = links.filter(type=params["type"])
        memory_filters = {
            name: params[name] for name in ("memory", "source", "target") if name in params
        }
        for name, value in memory_filters.items():
            if not _is_uuid(value):
                return Response({"results": [], "next_cursor": None, "next": None})
            links = (
                links.filter(Q(source_id=value) | Q(target_id=value))
                if name == "memory"
                else links.filter(**{f"{name}_id": value})
            )
        page = self.page(links)
        return self.get_paginated_response(s.LinkSerializer(page, many=True).data)

    @extend_schema(request=s.LinkInputSerializer, responses={201: s.LinkSerializer})
    def create(self, request: Request) -> Response:
        body = s.LinkInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        link = services.link_memories(
            self.space,
            self.actor,
            data["source"],
            data["target"],
            data["type"],
            weight=data["weight"],
            metadata=data.get("metadata"),
        )
        return Response(s.LinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.LinkSerializer, parameters=[LINK_ID])
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.LinkSerializer(self.get_object()).data)

    @extend_schema(responses={204: None}, parameters=[LINK_ID])
    def destroy(self, request: Request, pk: str) -> Response:
        services.unlink(self.space, self.actor, pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


class EntityViewSet(SpaceScopedViewSet):
    read_audit = "entity"
    serializer_class = s.EntitySerializer
    lookup_value_regex = "[^/]+"
    query_params = {"list": frozenset({"kind", "name"})}

    def get_queryset(self) -> QuerySet[Entity]:
        return Entity.objects.for_space(self.space).annotate(memory_count=Count("mentions"))

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Entity.EntityKind.values),
            OpenApiParameter("name", str, description="part of the name, any case"),
        ],
        responses=s.EntitySerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        entities = self.get_queryset().using(replicas.for_reading(request))
        if "kind" in request.query_params:
            entities = entities.filter(kind=request.query_params["kind"])
        if "name" in request.query_params:
            entities = entities.filter(
                normalized_name__contains=Entity.normalize(request.query_params["name"])
            )
        page = self.page(entities)
        return self.get_paginated_response(s.EntitySerializer(page, many=True).data)

    @extend_schema(responses=s.EntityDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        entity: Entity = self.get_object()
        memories = list(
            entity.memories.defer("embedding", "search_vector").order_by("-created_at")[:200]
        )
        log_reads(self.caller, (m.pk for m in memories), "entity")
        return Response(s.EntityDetailSerializer(entity, context={"memories": memories}).data)


class AuditViewSet(SpaceScopedViewSet):
    read_audit = "audit"
    serializer_class = s.AuditEventSerializer
    query_params = {
        "list": frozenset({"actor", "action", "target_type", "target_id", "since", "until"})
    }

    @extend_schema(
        parameters=[
            OpenApiParameter("actor", str, description='e.g. "token:planner" or "user:maya"'),
            OpenApiParameter("action", str, description='e.g. "memory.update"'),
            OpenApiParameter("target_type", str),
            OpenApiParameter("target_id", str),
            OpenApiParameter("since", str, description="ISO 8601 date-time"),
            OpenApiParameter("until", str, description="ISO 8601 date-time"),
        ],
        responses=s.AuditEventSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        events = AuditEvent.objects.for_space(self.space)
        params = request.query_params
        for param, column in (
            ("actor", "actor_label"),
            ("action", "action"),
            ("target_type", "target_type"),
            ("target_id", "target_id"),
        ):
            if param in params:
                events = events.filter(**{column: params[param]})
        since, until = self.date_param("since"), self.date_param("until")
        if since:
            events = events.filter(created_at__gte=since)
        if until:
            events = events.filter(created_at__lt=until)
        page = self.page(events)
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)


class GraphViewSet(SpaceScopedViewSet):
    read_audit = "graph"
    query_params = {"list": frozenset({"center", "hops", "types"})}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "center", str, required=True, description="memory:<id> or entity:<id>"
            ),
            OpenApiParameter("hops", int, description=f"1 to {MAX_HOPS} (default 1)"),
            OpenApiParameter(
                "types", str, many=True, enum=list(EDGE_TYPES), description="edge types to follow"
            ),
            OpenApiParameter("limit", int, description=f"node cap, up to {MAX_NODE_CAP}"),
        ],
        responses=OpenApiTypes.OBJECT,
        description="The neighbourhood of a memory or an entity: nodes (memories and "
        "entities, with their hop distance) and typed edges, breadth-first; "
        "`not_shown` counts the neighbours the node cap left out.",
    )
    def list(self, request: Request) -> Response:
        params = request.query_params
        if "center" not in params:
            raise ApiError(400, "invalid_request", "center is required", {"center": None})
        try:
            center = NodeRef.parse(params["center"])
            subgraph = neighbourhood(
                self.space,
                center,
                hops=_integer(params, "hops", 1, MAX_HOPS),
                types=params.getlist("types") or EDGE_TYPES,
                node_cap=_integer(params, "limit", DEFAULT_NODE_CAP, MAX_NODE_CAP),
            )
        except GraphError as error:
            raise ApiError(400, "invalid_request", error.message, error.details) from None
        except (Memory.DoesNotExist, Entity.DoesNotExist):
            raise ApiError(404, "not_found", f"no {center.kind} {center.id}", {}) from None
        memory_ids = [node.ref.id for node in subgraph.nodes.values() if node.ref.kind == "memory"]
        log_reads(self.caller, memory_ids, "graph")
        return Response(subgraph.as_json())


def _integer(params: Any, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    return default if raw is None else parse_int(raw, name, minimum=1, maximum=maximum)
