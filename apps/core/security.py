"""Response headers that Django's SecurityMiddleware does not set: a Content-Security-
Policy and a Permissions-Policy. Every script is served from our own static files, so
the policy allows no other origin; plotly's WebGL charts compile their shaders from
generated code ('unsafe-eval'), and plotly and htmx set inline styles."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
