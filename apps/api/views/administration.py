"""/api/v1/spaces and /api/v1/tokens (admin)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api import serializers as s
from apps.api.access import ROLE_SCOPES, Caller, HasScope
from apps.api.views.base import SpaceScopedViewSet
from apps.audit.actors import Actor
from apps.retrieval import health as retrieval_health
from apps.spaces.models import ApiToken, Membership, Role, Scope, Space
from apps.spaces.services import (
    InvalidSpaceChange,
    InvalidTokenRequest,
    TokenNotFound,
    issue_token,
    revoke_token,
    update_space,
)

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH)


class IsAuthenticated(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return True


class SpacesViewSet(SpaceScopedViewSet):
    """Spaces by slug. The slug in the URL is the space acted on, so a person's role
    there (or a token's own space) decides; another space's slug is 404."""

    read_audit = "space"
    serializer_class = s.SpaceSerializer
    lookup_field = "slug"
    action_scopes = {"partial_update": Scope.ADMIN}

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "list":
            return [IsAuthenticated()]
        return [IsAuthenticated(), HasScope()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        slug = kwargs.get("slug")
        if slug is not None:
            request.caller = _caller_for_slug(request, slug)  # type: ignore[attr-defined]
        super().initial(request, *args, **kwargs)

    def audited_space(self) -> Space | None:
        # A person's list of their spaces reads no one space (and names none).
        if self.action == "list" and not isinstance(self.request.auth, ApiToken):
            return None
        return super().audited_space()

    def visible(self) -> QuerySet[Space]:
        if isinstance(self.request.auth, ApiToken):
            return Space.objects.filter(pk=self.request.auth.space_id)
        return Space.objects.for_user(self.request.user)

    @extend_schema(responses=s.SpaceSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.page(self.visible())
        return self.get_paginated_response(s.SpaceSerializer(page, many=True).data)

    @extend_schema(responses=s.SpaceSerializer, parameters=[SLUG])
    def retrieve(self, request: Request, slug: str) -> Response:
        return Response(s.SpaceSerializer(self.space).data)

    @extend_schema(request=s.SpacePatchSerializer, responses=s.SpaceSerializer, parameters=[SLUG])
    def partial_update(self, request: Request, slug: str) -> Response:
        body = s.SpacePatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            space = update_space(self.space, self.actor, body.validated_data).space
        except InvalidSpaceChange as refused:
            raise exceptions.ValidationError(refused.errors) from None
        return Response(s.SpaceSerializer(space).data)

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[SLUG],
        description="The space's retrieval health: the last recall@10 measurements, vectors "
        "missing or pending, the model mix, sizes and search latency (docs/health.md).",
    )
    @action(detail=True, methods=["get"])
    def health(self, request: Request, slug: str) -> Response:
        return Response(retrieval_health.health_of(self.space).as_json())


def _caller_for_slug(request: Request, slug: str) -> Caller:
    if isinstance(request.auth, ApiToken):
        token = request.auth
        if token.space.slug != slug:
            raise exceptions.NotFound(f"no space {slug!r}")
        return Caller(token.space, Actor.for_token(token), frozenset(token.scopes))
    user = request.user
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    membership = Membership.objects.filter(user=user, space__slug=slug).select_related("space")
    found = membership.first()
    if found is None:
        raise exceptions.NotFound(f"no space {slug!r}")
    return Caller(found.space, Actor.for_user(user), ROLE_SCOPES[Role(found.role)])


class TokenViewSet(SpaceScopedViewSet):
    """The space's agent tokens. Only a hash is stored: a new token is shown once."""

    read_audit = "token"
    serializer_class = s.TokenSerializer
    action_scopes = {"list": Scope.ADMIN, "create": Scope.ADMIN, "destroy": Scope.ADMIN}

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(space=self.space)

    @extend_schema(responses=s.TokenSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.page(self.get_queryset())
        return self.get_paginated_response(s.TokenSerializer(page, many=True).data)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.IssuedTokenSerializer})
    def create(self, request: Request) -> Response:
        body = s.TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            token, raw = issue_token(
                self.space,
                self.actor,
                name=data["name"],
                scopes=data["scopes"],
                expires_at=data.get("expires_at"),
            )
        except InvalidTokenRequest as refused:
            raise exceptions.ValidationError(refused.errors) from None
        data = dict(s.TokenSerializer(token).data)
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=s.TokenSerializer,
        description="Revoke: takes effect at once.",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
    )
    def destroy(self, request: Request, pk: str) -> Response:
        try:
            token, _ = revoke_token(self.space, self.actor, pk)
        except TokenNotFound as missing:
            raise exceptions.NotFound(str(missing)) from None
        return Response(s.TokenSerializer(token).data)
