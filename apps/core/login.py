"""Sign-in with a limit on failed attempts, per client address and per user name:
guessing passwords from one address, or spreading guesses at one account over many,
both run into it. Counters live in the shared cache, so every web process counts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from apps.core.ratelimit import count_attempt, withdraw_attempt


def _keys(request: HttpRequest) -> list[str]:
    _, period = settings.LOGIN_RATE_LIMIT
    # The address as the API's rate limit sees it: behind a proxy, the one it forwarded.
    client = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    username = str(request.POST.get("username", "")).strip().casefold()[:150]
    return [f"login-failures:{period}:addr:{client}", f"login-failures:{period}:user:{username}"]


def _claim_attempt(request: HttpRequest) -> list[str] | None:
    """Counts this attempt as a failure in every window before its password is checked,
    so parallel guesses cannot all pass a count none of them has added to yet. None, and
    nothing counted, when a window is already full."""
    limit, period = settings.LOGIN_RATE_LIMIT
    claimed: list[str] = []
    for key in _keys(request):
        claimed.append(key)
        if count_attempt(key, period) > limit:
            # A refused attempt takes no place: guesses from a blocked address must
            # not fill the windows of the accounts they name.
            _release(claimed)
            return None
    return claimed


def _release(keys: list[str]) -> None:
    for key in keys:
        withdraw_attempt(key)


class RefusedSignInForm(AuthenticationForm):
    """The sign-in form as a refused attempt shows it. Its password is never checked:
    the answer must not tell a right password from a wrong one."""

    def clean(self) -> dict[str, Any]:
        _, period = settings.LOGIN_RATE_LIMIT
        raise ValidationError(
            f"Too many failed sign-ins. Wait {period // 60 or 1} minute(s) and try again.",
            code="rate_limited",
        )


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        claimed = _claim_attempt(request)
        if claimed is None:
            form = self.get_form(RefusedSignInForm)
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        response = super().post(request, *args, **kwargs)
        if response.status_code != 200:  # not the form again: the password was right
            _release(claimed)
        return response
