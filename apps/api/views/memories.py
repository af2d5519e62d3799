"""/api/v1/memories: the memory lifecycle, versions, links and access log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.errors import ApiError, domain_error_body, domain_error_status
from apps.api.idempotency import run_once
from apps.api.views.base import SpaceScopedViewSet, if_match_version, log_reads
from apps.api.views.receipts import written_memories, written_memory
from apps.audit.models import AuditEvent
from apps.core import replicas
from apps.memories import services
from apps.memories.models import Link, Memory, Status
from apps.retrieval.search import Filters
from apps.spaces.models import Scope

MEMORY_FILTERS = frozenset(
    {
        "subject",
        "agent",
        "session",
        "kind",
        "tags",
        "status",
        "occurred_after",
        "occurred_before",
        "created_after",
        "created_before",
        "as_of",
    }
)
# Columns a list can leave unread when the caller did not ask for their field.
_HEAVY = {"content": ("content",), "embedding": ("embedding",)}

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='the version you read (its ETag, e.g. "3"); a newer one answers 412',
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="a retry with the same key returns the first answer",
)
FIELDS = OpenApiParameter(
    "fields",
    str,
    description=f"comma-separated subset of: {', '.join(s.MEMORY_FIELDS)}",
)
LIST_FILTERS = [
    OpenApiParameter(name, str, description=description)
    for name, description in (
        ("subject", "exact subject"),
        ("agent", "exact agent"),
        ("session", "exact session"),
        ("kind", "kinds, comma-separated"),
        ("tags", "any of these tags, comma-separated"),
        ("status", "statuses, comma-separated, or 'any' (default: active)"),
        ("occurred_after", "ISO 8601 date-time"),
        ("occurred_before", "ISO 8601 date-time"),
        ("created_after", "ISO 8601 date-time"),
        ("created_before", "ISO 8601 date-time"),
        ("as_of", "ISO 8601 date-time: what was valid and recorded then"),
    )
]


# A write's answer: the memory, or its receipt to a caller that may not read it.
WRITTEN_MEMORY = s.written_memory_schema()
# How the access log names a write whose answer showed a memory; a memory the caller
# has just created from what it sent is no read.
_READ_VIA: dict[str, str | None] = {"create": None, "partial_update": "update", "destroy": "delete"}


def _with_etag(response: Response, memory: Memory) -> Response:
    response["ETag"] = f'"{memory.version}"'
    return response


class MemoryViewSet(SpaceScopedViewSet):
    serializer_class = s.MemorySerializer
    lookup_value_regex = "[^/]+"
    action_scopes = {"purge": Scope.ADMIN}
    query_params = {
        "list": MEMORY_FILTERS,
        "destroy": frozenset({"reason"}),
    }

    # ---------------------------------------------------------------- helpers

    def requested_fields(self) -> tuple[str, ...]:
        raw = self.request.query_params.get("fields")
        if not raw:
            return s.DEFAULT_MEMORY_FIELDS
        names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
        unknown = sorted(set(names) - set(s.MEMORY_FIELDS))
        if unknown or not names:
            raise ApiError(
                400,
                "invalid_request",
                "fields names unknown fields" if unknown else "fields is empty",
                {"unknown": unknown, "allowed": list(s.MEMORY_FIELDS)},
            )
        return names

    def get_queryset(self) -> QuerySet[Memory]:
        fields = self.requested_fields()
        queryset = Memory.objects.for_space(self.space).defer(
            "search_vector",
            *(
                column
                for name, columns in _HEAVY.items()
                if name not in fields
                for column in columns
            ),
        )
        return queryset

    def filtered(self, queryset: QuerySet[Memory]) -> QuerySet[Memory]:
        statuses = self.list_param("status")
        if statuses == ["any"]:
            statuses = list(Status.values)
        filters = Filters(
            subject=self.request.query_params.get("subject"),
            agent=self.request.query_params.get("agent"),
            session=self.request.query_params.get("session"),
            kinds=self.list_param("kind"),
            tags=self.list_param("tags"),
            statuses=statuses,
            occurred_after=self.date_param("occurred_after"),
            occurred_before=self.date_param("occurred_before"),
            created_after=self.date_param("created_after"),
            created_before=self.date_param("created_before"),
            as_of=self.date_param("as_of"),
        )
        return filters.apply(queryset)

    def memory(self) -> Memory:
        memory: Memory = self.get_object()
        return memory

    def respond(self, memory: Memory, code: int = status.HTTP_200_OK) -> Response:
        # Re-read through the queryset so the answer shows what is stored.
        fresh = self.get_queryset().get(pk=memory.pk)
        action = str(self.action)
        data = written_memory(
            self.caller,
            fresh,
            via=_READ_VIA.get(action, action),
            fields=self.requested_fields(),
        )
        return _with_etag(Response(data, status=code), fresh)

    def reason(self) -> str:
        body = s.ReasonSerializer(data=self.request.data or {})
        body.is_valid(raise_exception=True)
        return str(body.validated_data.get("reason", ""))

    # ---------------------------------------------------------------- reading

    @extend_schema(parameters=[*LIST_FILTERS, FIELDS], responses=s.MemorySerializer(many=True))
    def list(self, request: Request) -> Response:
        memories = self.get_queryset().using(replicas.for_reading(request))
        page = self.page(self.filtered(memories))
        log_reads(self.caller, (m.pk for m in page), "list")
        data = s.MemorySerializer(page, many=True, fields=self.requested_fields()).data
        return self.get_paginated_response(data)

    @extend_schema(parameters=[FIELDS], responses=s.MemorySerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        memory = self.memory()
        log_reads(self.caller, [memory.pk], "get")
        data = s.MemorySerializer(memory, fields=self.requested_fields()).data
        return _with_etag(Response(data), memory)

    # ---------------------------------------------------------------- writing

    @extend_schema(
        request=s.MemoryWriteSerializer,
        responses={201: WRITTEN_MEMORY},
        parameters=[IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> Response:
        def handler() -> Response:
            body = s.MemoryWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            fields = dict(body.validated_data)
            reason = fields.pop("reason", "")
            memory = services.create_memory(self.space, self.actor, reason=reason, **fields)
            return self.respond(memory, status.HTTP_201_CREATED)

        return run_once(request, self.caller, handler)

    @extend_schema(
        request=s.MemoryBatchSerializer,
        responses={201: s.BatchResultSerializer, 207: s.BatchResultSerializer},
        parameters=[IDEMPOTENCY_KEY],
        description=(
            "Create up to MEMORYWEB_API_MAX_BATCH memories. Each item gets its own result; "
            "a bad item does not stop the others unless atomic is true. 201 when every item "
            "was stored, 207 when some were not."
        ),
    )
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        return run_once(request, self.caller, lambda: self._batch(request))

    def _batch(self, request: Request) -> Response:
        body = s.MemoryBatchSerializer(data=request.data)
        if isinstance(request.data, dict) and isinstance(request.data.get("items"), list):
            size = len(request.data["items"])
            if size > settings.API_MAX_BATCH:
                raise ApiError(
                    413,
                    "batch_too_large",
                    f"{size} items; a batch holds at most {settings.API_MAX_BATCH}",
                    {"items": size, "limit": settings.API_MAX_BATCH},
                )
        body.is_valid(raise_exception=True)
        errors: dict[int, tuple[int, dict[str, Any]]] = {}
        valid: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(body.validated_data["items"]):
            one = s.MemoryWriteSerializer(data=item)
            if one.is_valid():
                valid[index] = dict(one.validated_data)
                valid[index].pop("reason", None)
            else:
                errors[index] = (400, _invalid(one.errors))
        if errors and body.validated_data["atomic"]:
            raise ApiError(
                400,
                "invalid_request",
                f"{len(errors)} of {len(body.validated_data['items'])} items are not valid; "
                "nothing was stored",
                {"items": {str(i): e[1]["error"] for i, e in errors.items()}},
            )
        created = self._create_valid(valid, errors, atomic=body.validated_data["atomic"])
        # One pass for the whole batch: their source episodes in one query.
        shown = written_memories(
            self.caller, list(created.values()), via=None, fields=self.requested_fields()
        )
        answers = dict(zip(created, shown, strict=True))
        results: list[dict[str, Any]] = []
        for index in range(len(body.validated_data["items"])):
            if index in answers:
                results.append({"index": index, "status": 201, "memory": answers[index]})
            else:
                code, error = errors[index]
                results.append({"index": index, "status": code, **error})
        return Response(
            {"created": len(created), "failed": len(errors), "results": results},
            status=status.HTTP_201_CREATED if not errors else status.HTTP_207_MULTI_STATUS,
        )

    def _create_valid(
        self,
        valid: dict[int, dict[str, Any]],
        errors: dict[int, tuple[int, dict[str, Any]]],
        *,
        atomic: bool,
    ) -> dict[int, Memory]:
        """Creates the valid items in one statement batch; an item the domain layer
        refuses is set aside with its error and the rest retried."""
        pending = dict(valid)
        while pending:
            indexes = list(pending)
            try:
                memories = services.create_memories(
                    self.space, self.actor, [pending[i] for i in indexes]
                )
            except services.MemoryServiceError as exc:
                if atomic:
                    raise
                position = exc.details.get("index")
                culprit = indexes[position] if isinstance(position, int) else None
                if culprit is None:
                    return self._create_one_by_one(pending, errors)
                errors[culprit] = (domain_error_status(exc), domain_error_body(exc))
                del pending[culprit]
                continue
            return dict(zip(indexes, memories, strict=True))
        return {}

    def _create_one_by_one(
        self, pending: dict[int, dict[str, Any]], errors: dict[int, tuple[int, dict[str, Any]]]
    ) -> dict[int, Memory]:
        created: dict[int, Memory] = {}
        for index, fields in pending.items():
            try:
                created[index] = services.create_memory(self.space, self.actor, **fields)
            except services.MemoryServiceError as exc:
                errors[index] = (domain_error_status(exc), domain_error_body(exc))
        return created

    @extend_schema(
        request=s.MemoryPatchSerializer,
        responses=WRITTEN_MEMORY,
        parameters=[IF_MATCH, FIELDS],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        body = s.MemoryPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        reason = changes.pop("reason", "")
        memory = services.update_memory(
            self.space,
            self.actor,
            pk,
            expected_version=if_match_version(request),
            reason=reason,
            **changes,
        )
        return self.respond(memory)

    @extend_schema(
        parameters=[IF_MATCH, OpenApiParameter("reason", str)],
        responses=WRITTEN_MEMORY,
        description="Soft delete: the memory leaves search results and can be restored.",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        memory = services.delete_memory(
            self.space,
            self.actor,
            pk,
            reason=request.query_params.get("reason", ""),
            expected_version=if_match_version(request),
        )
        return self.respond(memory)

    @extend_schema(request=s.ReasonSerializer, responses=WRITTEN_MEMORY, parameters=[IF_MATCH])
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        return self.change_status(services.restore_memory, pk)

    @extend_schema(request=s.ReasonSerializer, responses=WRITTEN_MEMORY, parameters=[IF_MATCH])
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str) -> Response:
        return self.change_status(services.archive_memory, pk)

    def change_status(self, change: Callable[..., Memory], pk: str) -> Response:
        memory = change(
            self.space,
            self.actor,
            pk,
            reason=self.reason(),
            expected_version=if_match_version(self.request),
        )
        return self.respond(memory)

    @extend_schema(
        request=s.PurgeSerializer,
        responses=inline_serializer(
            "Purged", {"id": serializers.UUIDField(), "purged": serializers.BooleanField()}
        ),
        description="Hard delete (admin scope): the memory, its versions and links are gone; "
        "an audit event records who purged it and why.",
    )
    @action(detail=True, methods=["post"])
    def purge(self, request: Request, pk: str) -> Response:
        body = s.PurgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        memory = self.memory()
        services.purge_memory(
            self.space, self.actor, memory.pk, reason=body.validated_data["reason"]
        )
        return Response({"id": str(memory.pk), "purged": True})

    @extend_schema(
        request=s.RedactSerializer,
        responses=WRITTEN_MEMORY,
        parameters=[IF_MATCH, FIELDS],
        description="Replace spans of the content (code-point offsets, end exclusive) by "
        "`[REDACTED:type]` in a new version, and their text everywhere the space keeps it: "
        "earlier versions, source episodes, memories merged or summarised from it, the "
        "audit trail, stored answers, search queries and feedback notes.",
    )
    @action(detail=True, methods=["post"])
    def redact(self, request: Request, pk: str) -> Response:
        body = s.RedactSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        spans = [
            (span["start"], span["end"], span["type"]) for span in body.validated_data["spans"]
        ]
        memory = services.redact_memory(
            self.space,
            self.actor,
            pk,
            spans,
            reason=body.validated_data["reason"],
            expected_version=if_match_version(request),
        )
        return self.respond(memory)

    @extend_schema(request=s.MergeSerializer, responses={201: WRITTEN_MEMORY})
    @action(detail=False, methods=["post"])
    def merge(self, request: Request) -> Response:
        body = s.MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        overrides = dict(body.validated_data)
        ids = overrides.pop("ids")
        reason = overrides.pop("reason", "")
        merged = services.merge_memories(self.space, self.actor, ids, reason=reason, **overrides)
        return self.respond(merged, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SupersedeSerializer,
        responses=s.SupersedeResultSerializer,
        parameters=[IF_MATCH],
        description="Replace this memory by another: an existing one (`by`) or a new one "
        "(`memory`). It becomes superseded and stops being valid when the new one starts.",
    )
    @action(detail=True, methods=["post"])
    def supersede(self, request: Request, pk: str) -> Response:
        body = s.SupersedeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason", "")
        expected = if_match_version(request)
        with transaction.atomic():
            if "by" in body.validated_data:
                new_id = body.validated_data["by"]
                old = services.supersede_memory(
                    self.space, self.actor, pk, new_id, reason=reason, expected_version=expected
                )
            else:
                fields = dict(body.validated_data["memory"])
                fields.pop("reason", None)
                old, new = services.replace_memory(
                    self.space, self.actor, pk, reason=reason, expected_version=expected, **fields
                )
                new_id = new.pk
        queryset = self.get_queryset()
        superseded, by = written_memories(
            self.caller,
            [queryset.get(pk=old.pk), queryset.get(pk=new_id)],
            via="supersede",
            fields=self.requested_fields(),
        )
        return Response({"superseded": superseded, "by": by})

    # ---------------------------------------------------------------- history

    @extend_schema(
        responses=inline_serializer("Versions", {"results": s.VersionSerializer(many=True)})
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        memory = self.memory()
        log_reads(self.caller, [memory.pk], "versions")
        versions = memory.versions.order_by("version")
        return Response({"results": s.VersionSerializer(versions, many=True).data})

    @extend_schema(responses=s.VersionSerializer, operation_id="v1_memories_version_retrieve")
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]{1,9})")
    def version(self, request: Request, pk: str, number: str) -> Response:
        memory = self.memory()
        version = memory.versions.filter(version=int(number)).first()
        if version is None:
            raise ApiError(
                404, "not_found", f"memory {memory.pk} has no version {number}", {"version": number}
            )
        log_reads(self.caller, [memory.pk], "versions")
        return Response(s.VersionSerializer(version).data)

    @extend_schema(
        request=s.RevertSerializer,
        responses=WRITTEN_MEMORY,
        parameters=[IF_MATCH],
        description="Write a new version equal to an old one. Status and validity come back "
        "together or not at all: the `Revert-Lifecycle` header says which (`restored` or "
        "`kept`) and `Revert-Outcome` says why; the memory's own answer repeats both under "
        "`revert`. Reverting a superseded memory to a version before the supersession ends "
        "the supersession.",
    )
    @action(detail=True, methods=["post"])
    def revert(self, request: Request, pk: str) -> Response:
        body = s.RevertSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reverted = services.revert_to_version(
            self.space,
            self.actor,
            pk,
            to_version=body.validated_data["version"],
            reason=body.validated_data.get("reason", ""),
            expected_version=if_match_version(request),
        )
        response = self.respond(reverted.memory)
        # Every caller learns it from the headers; a receipt (write-only token) keeps
        # its fixed shape, so only the memory itself carries it in its body too.
        response["Revert-Lifecycle"] = "restored" if reverted.lifecycle_restored else "kept"
        response["Revert-Outcome"] = reverted.outcome
        if self.caller.may_read:
            response.data["revert"] = {
                "to_version": reverted.to_version,
                "changed": reverted.changed,
                "lifecycle_restored": reverted.lifecycle_restored,
                "outcome": reverted.outcome,
            }
        return response

    @extend_schema(responses=s.AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def access(self, request: Request, pk: str) -> Response:
        """Who or which agent read this memory, when, and with what query."""
        memory = self.memory()
        events = AuditEvent.objects.for_space(self.space).filter(
            target_type="memory",
            target_id=str(memory.pk),
            action__in=["memory.read", "memory.recall"],
        )
        page = self.page(events)
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)

    @extend_schema(responses=s.LinkSerializer(many=True))
    @action(detail=True, methods=["get"])
    def links(self, request: Request, pk: str) -> Response:
        memory = self.memory()
        links = Link.objects.for_space(self.space).filter(Q(source=memory) | Q(target=memory))
        page = self.page(links)
        return self.get_paginated_response(s.LinkSerializer(page, many=True).data)


def _invalid(errors: Any) -> dict[str, Any]:
    return {
        "error": {
            "code": "invalid_request",
            "message": "the item is not valid; see details",
            "details": errors,
        }
    }
