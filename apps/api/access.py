"""Who is calling, in which space, with which scopes.

An agent's token belongs to one space. A signed-in person picks a space of theirs
with `?space=<slug>` (or the X-Space header); their role gives their scopes. Every
object the API loads comes from that space's querysets, so another space's ids are
simply not found (404), never forbidden (403): existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from apps.audit.actors import Actor
from apps.spaces.models import ApiToken, Membership, Role, Scope, Space

ROLE_SCOPES = {
    Role.VIEWER: frozenset({Scope.MEMORIES_READ}),
    Role.EDITOR: frozenset({Scope.MEMORIES_READ, Scope.MEMORIES_WRITE}),
    Role.ADMIN: frozenset({Scope.MEMORIES_READ, Scope.MEMORIES_WRITE, Scope.ADMIN}),
}


@dataclass(frozen=True)
class Caller:
    space: Space
    actor: Actor
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def may_read(self) -> bool:
        """Whether an answer may show what memories and episodes hold."""
        return self.has(Scope.MEMORIES_READ)


def resolve_caller(request: Request) -> Caller:
    if isinstance(request.auth, ApiToken):
        token = request.auth
        return Caller(token.space, Actor.for_token(token), frozenset(token.scopes))
    user = request.user
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    slug = request.query_params.get("space") or request.headers.get("X-Space", "")
    memberships = Membership.objects.filter(user=user).select_related("space")
    if slug:
        membership = memberships.filter(space__slug=slug).first()
        if membership is None:
            raise exceptions.NotFound(f"no space {slug!r}")
    else:
        mine = list(memberships[:2])
        if len(mine) != 1:
            raise exceptions.ValidationError(
                {"space": "name the space with ?space=<slug> or an X-Space header"}
                if mine
                else {"space": "you are not a member of any space"}
            )
        membership = mine[0]
    space: Space = membership.space
    return Caller(space, Actor.for_user(user), ROLE_SCOPES[Role(membership.role)])


def caller_of(request: Request) -> Caller:
    caller = getattr(request, "caller", None)
    if caller is None:
        caller = resolve_caller(request)
        request.caller = caller  # type: ignore[attr-defined]
    return caller


class HasScope(permissions.BasePermission):
    """Reads need memories:read, writes memories:write; a view's `admin_actions` need
    admin. The view may name other scopes per action in `action_scopes`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = caller_of(request)
        action = getattr(view, "action", None) or (request.method or "").lower()
        scope = getattr(view, "action_scopes", {}).get(action)
        if scope is None:
            scope = (
                Scope.MEMORIES_READ
                if request.method in permissions.SAFE_METHODS
                else Scope.MEMORIES_WRITE
            )
        if not caller.has(scope):
            self.message = f"this needs the {scope} scope"
            return False
        return True
