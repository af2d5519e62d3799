"""Which space a page is about, and whether this person may do what they ask there.

A space someone is not a member of does not exist for them (404). A member whose
role is too low for the action gets 403 with the role they would need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseLocation
from django_htmx.middleware import HtmxDetails

from apps.audit.actors import Actor
from apps.spaces.models import ROLE_RANK, Membership, Role, Space


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it, so type checkers know `.htmx`."""

    htmx: HtmxDetails


def go_to(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Where a finished action sends the curator: for htmx, a swap of the page body
    with `url` (no reload; the flash message shows there); otherwise a redirect."""
    if request.htmx:
        return HttpResponseLocation(url, target="body")
    return redirect(url)


@dataclass(frozen=True)
class Curator:
    """The signed-in person in one space."""

    space: Space
    role: str
    actor: Actor

    def can(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    @property
    def can_edit(self) -> bool:
        return self.can(Role.EDITOR)

    @property
    def is_admin(self) -> bool:
        return self.can(Role.ADMIN)


def curator_for(request: HttpRequest, slug: str) -> Curator:
    membership = (
        Membership.objects.filter(user_id=request.user.pk or 0, space__slug=slug)
        .select_related("space")
        .first()
    )
    if membership is None:
        raise Http404("No such space")
    return Curator(membership.space, membership.role, Actor.for_user(request.user))


def space_page(role: str = Role.VIEWER) -> Callable[..., Any]:
    """Resolve `slug` to the caller's Curator (passed as `curator`) and require `role`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            curator = curator_for(request, slug)
            if not curator.can(role):
                raise PermissionDenied(f"This needs the {role} role in {curator.space.name}.")
            request.curator = curator  # type: ignore[attr-defined]
            return view(request, curator, *args, **kwargs)

        return wrapped

    return decorate
