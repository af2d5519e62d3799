"""Sign-in with a limit on failed attempts, per client address and per user name:
guessing passwords from one address, or spreading guesses at one account over many,
both run into it. Counters live in the shared cache, so every web process counts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle


def _keys(request: HttpRequest) -> list[str]:
    _, period = settings.LOGIN_RATE_LIMIT
    # The address as the API's rate limit sees it: behind a proxy, the one it forwarded.
    client = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    username = str(request.POST.get("username", "")).strip().casefold()[:150]
    return [f"login-failures:{period}:addr:{client}", f"login-failures:{period}:user:{username}"]


def _too_many(request: HttpRequest) -> bool:
    limit, _ = settings.LOGIN_RATE_LIMIT
    counts = cache.get_many(_keys(request))
    return any(int(count) >= limit for count in counts.values())


def _count_failure(request: HttpRequest) -> None:
    _, period = settings.LOGIN_RATE_LIMIT
    for key in _keys(request):
        # add() starts the window; incr() keeps its expiry.
        if not cache.add(key, 1, timeout=period):
            try:
                cache.incr(key)
            except ValueError:  # expired between the two calls
                cache.add(key, 1, timeout=period)


class LoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _too_many(request):
            form = self.get_form()
            _, period = settings.LOGIN_RATE_LIMIT
            form.add_error(
                None,
                f"Too many failed sign-ins. Wait {period // 60 or 1} minute(s) and try again.",
            )
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form came back: the password was wrong
            _count_failure(request)
        return response
