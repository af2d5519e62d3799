"""/api/v1/proposals and /api/v1/consolidate: what consolidation proposes, decided by
an agent or a person over the API, applied through the domain layer."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.errors import ApiError
from apps.api.views.base import SpaceScopedViewSet
from apps.api.views.receipts import decided_proposal
from apps.consolidation import services as consolidation
from apps.consolidation.models import Operation, Proposal
from apps.jobs.models import Job

PROPOSAL_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


class ProposalViewSet(SpaceScopedViewSet):
    serializer_class = s.ProposalSerializer
    read_audit = "proposal"
    lookup_value_regex = "[0-9]+"
    query_params = {"list": frozenset({"status", "operation"})}

    def get_queryset(self) -> QuerySet[Proposal]:
        return Proposal.objects.for_space(self.space)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Proposal.Status.values),
            OpenApiParameter("operation", str, enum=Operation.values),
        ],
        responses=s.ProposalSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        proposals = self.get_queryset()
        for name, allowed in (("status", Proposal.Status.values), ("operation", Operation.values)):
            value = request.query_params.get(name)
            if value is None:
                continue
            if value not in allowed:
                raise ApiError(
                    400, "invalid_request", f"{name} must be one of {allowed}", {name: value}
                )
            proposals = proposals.filter(**{name: value})
        page = self.page(proposals)
        return self.get_paginated_response(s.ProposalSerializer(page, many=True).data)

    @extend_schema(parameters=[PROPOSAL_ID], responses=s.ProposalSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(s.ProposalSerializer(self.get_object()).data)

    @extend_schema(
        parameters=[PROPOSAL_ID], request=s.ApproveSerializer, responses=s.DECIDED_PROPOSAL
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Apply the proposal; for a merge, `content` replaces the proposed text."""
        body = s.ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        content = body.validated_data.get("content")
        return self._decide(pk, lambda p: consolidation.apply(p, self.actor, content=content))

    @extend_schema(
        parameters=[PROPOSAL_ID], request=s.ReasonSerializer, responses=s.DECIDED_PROPOSAL
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject the proposal: the same change is never proposed again."""
        body = s.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason", "")
        return self._decide(pk, lambda p: consolidation.reject(p, self.actor, reason=reason))

    @extend_schema(
        parameters=[PROPOSAL_ID],
        request=None,
        responses={200: s.DECIDED_PROPOSAL, 409: s.ErrorSerializer},
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        """Take back an applied proposal: a merge's originals come back as they were, a
        superseded memory gets back its status and validity, a summary is archived, a
        link removed, an archived memory restored. The proposal becomes `undone` and
        may be approved again. When a memory changed since the apply, nothing is undone
        and the 409 lists each change (`details.changed`)."""
        try:
            undone = consolidation.undo(self.get_object(), self.actor)
        except consolidation.UndoConflict as conflict:
            raise ApiError(409, "changed_since_apply", conflict.message, conflict.details) from None
        except consolidation.ProposalError as refused:
            raise ApiError(409, "proposal_not_applied", refused.message, {"id": pk}) from None
        return Response(decided_proposal(self.caller, undone))

    def _decide(self, pk: str, decide: Callable[[Proposal], Proposal]) -> Response:
        try:
            decided = decide(self.get_object())
        except consolidation.ProposalError as refused:
            raise ApiError(409, "proposal_not_pending", refused.message, {"id": pk}) from None
        return Response(decided_proposal(self.caller, decided))


class ConsolidateViewSet(SpaceScopedViewSet):
    @extend_schema(
        request=s.ConsolidateSerializer,
        responses={202: s.JobSerializer},
        description="Queue a consolidation job for the caller's space (all operations, or "
        "`only` these); its proposals then appear under /proposals.",
    )
    def create(self, request: Request) -> Response:
        body = s.ConsolidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job: Job | None = None
        try:
            with transaction.atomic():  # the task is queued as this commits
                job = consolidation.start_consolidation(
                    self.space, only=body.validated_data.get("only")
                )
        except (BrokerError, OSError) as exc:
            if job is not None:
                job.fail(f"Could not reach the task queue: {exc}")
            raise ApiError(
                503, "queue_unavailable", "the task queue is unreachable; try again later", {}
            ) from None
        return Response(s.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
