"""The space's agent tokens, for its admins: list, issue (the secret is shown once), revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.audit.services import record_event
from apps.dashboard.access import Curator, space_page
from apps.spaces.models import ApiToken, Role, Scope, Space

MAX_EXPIRY_DAYS = 3650


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Name", help_text="Which agent uses it, e.g. “support-bot”."
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        label="Expires after (days)",
        help_text="Leave empty for a token that does not expire.",
    )

    def __init__(self, *args: Any, space: Space, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.space = space

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        if _space_tokens(self.space).filter(name=name).exists():
            raise forms.ValidationError("This space already has a token with this name.")
        return name


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
        return _listing(request, curator, TokenForm(space=curator.space))
    form = TokenForm(request.POST, space=curator.space)
    if not form.is_valid():
        return _listing(request, curator, form, status=400)
    data = form.cleaned_data
    days = data.get("expires_in_days")
    try:
        with transaction.atomic():
            token, raw = ApiToken.issue(
                space=curator.space,
                name=data["name"],
                scopes=list(data["scopes"]),
                created_by=request.user,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
            record_event(
                curator.space,
                curator.actor,
                "token.create",
                target_type="token",
                target_id=token.pk,
                summary={"name": token.name, "scopes": token.scopes},
            )
    except IntegrityError:
        # Another admin took the name between the check and the insert.
        form.add_error("name", "This space already has a token with this name.")
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
    with transaction.atomic():
        token = _space_tokens(curator.space).select_for_update().filter(pk=token_id).first()
        if token is None:
            raise Http404("No such token in this space")
        if token.revoked_at is not None:
            messages.info(request, f"Token “{token.name}” was already revoked.")
        else:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_event(
                curator.space,
                curator.actor,
                "token.revoke",
                target_type="token",
                target_id=token.pk,
                summary={"name": token.name},
            )
            messages.success(
                request,
                f"Token “{token.name}” is revoked: agents using it are refused from now on.",
            )
    return redirect("dashboard:tokens", curator.space.slug)
