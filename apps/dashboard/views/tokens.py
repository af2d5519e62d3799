"""The space's agent tokens, for its admins: list, issue (the secret is shown once), revoke."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.dashboard.access import Curator, space_page
from apps.dashboard.forms import TokenForm
from apps.spaces.models import ApiToken, Role, Space
from apps.spaces.services import InvalidTokenRequest, TokenNotFound, issue_token, revoke_token


def _space_tokens(space: Space) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(space=space)


def _listing(
    request: HttpRequest, curator: Curator, form: TokenForm, status: int = 200
) -> HttpResponse:
    # Live tokens first: those are the ones an admin comes here to check or revoke.
    tokens = (
        _space_tokens(curator.space)
        .select_related("created_by")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-pk")
    )
    return render(
        request,
        "dashboard/tokens.html",
        {"nav": "tokens", "tokens": tokens, "form": form},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@space_page(Role.ADMIN)
def tokens(request: HttpRequest, curator: Curator) -> HttpResponse:
    if request.method == "GET":
        return _listing(request, curator, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _listing(request, curator, form, status=400)
    data = form.cleaned_data
    days = data.get("expires_in_days")
    try:
        token, raw = issue_token(
            curator.space,
            curator.actor,
            name=data["name"],
            scopes=list(data["scopes"]),
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except InvalidTokenRequest as refused:
        for name, problem in refused.errors.items():
            form.add_error(name if name in form.fields else None, problem)
        return _listing(request, curator, form, status=400)
    # Rendered, not redirected: the raw token exists only in this response.
    return render(
        request,
        "dashboard/tokens_created.html",
        {"nav": "tokens", "token": token, "raw_token": raw},
    )


@require_POST
@space_page(Role.ADMIN)
def revoke(request: HttpRequest, curator: Curator, token_id: int) -> HttpResponse:
    try:
        token, revoked = revoke_token(curator.space, curator.actor, token_id)
    except TokenNotFound:
        raise Http404("No such token in this space") from None
    if revoked:
        messages.success(
            request, f"Token “{token.name}” is revoked: agents using it are refused from now on."
        )
    else:
        messages.info(request, f"Token “{token.name}” was already revoked.")
    return redirect("dashboard:tokens", curator.space.slug)
