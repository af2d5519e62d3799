"""While the database is away (restarting, failing over) requests get a clear 503
with Retry-After instead of a 500 and a stack trace. Nothing needs restarting: with
CONN_HEALTH_CHECKS each request checks its connection and opens a new one once the
database is back."""

from __future__ import annotations

from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.api.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, error_body


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            error_body("database_unavailable", UNAVAILABLE_MESSAGE), status=503
        )
    else:
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title><h1>MemoryWeb is unavailable</h1>"
            f"<p>{UNAVAILABLE_MESSAGE.capitalize()}.</p>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            return unavailable_response(request)
        return None
