"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.params import InvalidParameter
from apps.core.payload import UnusableJSON
from apps.memories.services import (
    ContentTooLarge,
    InvalidFeedback,
    InvalidMemory,
    InvalidTransition,
    MemoryNotFound,
    MemoryServiceError,
    NotInRecall,
    RecallNotFound,
    VersionConflict,
)
from apps.retrieval.search import InvalidSearch

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with our own code and details, raised by the API views."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}


# While the database is away (see apps.core.unavailable for pages).
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "the database is unavailable; nothing was changed, try again shortly"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


# Domain errors -> HTTP. A version conflict is 412: it only happens on If-Match.
_DOMAIN_STATUS: list[tuple[type[MemoryServiceError], int]] = [
    (MemoryNotFound, status.HTTP_404_NOT_FOUND),
    (RecallNotFound, status.HTTP_404_NOT_FOUND),
    (InvalidFeedback, status.HTTP_400_BAD_REQUEST),
    (NotInRecall, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (VersionConflict, status.HTTP_412_PRECONDITION_FAILED),
    (InvalidTransition, status.HTTP_409_CONFLICT),
    (ContentTooLarge, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE),
    (InvalidMemory, status.HTTP_422_UNPROCESSABLE_ENTITY),
]

_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_request",
}


def domain_error_status(exc: MemoryServiceError) -> int:
    for kind, code in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            return code
    return status.HTTP_400_BAD_REQUEST


def domain_error_body(exc: MemoryServiceError) -> dict[str, Any]:
    return error_body(exc.code, exc.message, exc.details)


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ApiError):
        code, message, details, status_code = exc.code, exc.message, exc.details, exc.status_code
    elif isinstance(exc, MemoryServiceError):
        code, message, details = exc.code, exc.message, exc.details
        status_code = domain_error_status(exc)
    elif isinstance(exc, UnusableJSON):
        code, message, details = exc.code, exc.message, exc.details
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, InvalidParameter):
        code, message, details = exc.code, exc.message, {exc.name: exc.value}
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, InvalidSearch):
        code, message, details = "invalid_search", exc.message, exc.details
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, RequestDataTooBig):
        code, message, details = "request_too_large", str(exc), {}
        status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, Http404):
        code, message, details = "not_found", "not found", {}
        status_code = status.HTTP_404_NOT_FOUND
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        code = next((name for kind, name in _DRF_CODES.items() if isinstance(exc, kind)), "error")
        if isinstance(exc, exceptions.ValidationError):
            message = "the request is not valid; see details"
            details = exc.detail if isinstance(exc.detail, dict) else {"request": exc.detail}
        else:
            message, details = str(exc.detail), {}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait + 0.999))
            details = {"retry_after_seconds": int(wait + 0.999)}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
    elif isinstance(exc, (OperationalError, InterfaceError)):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return Response(
            error_body("database_unavailable", UNAVAILABLE_MESSAGE), status=503, headers=headers
        )
    else:
        return None  # a bug: Django's 500 handler (below) answers
    set_rollback()
    return Response(error_body(code, message, details), status=status_code, headers=headers)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body("server_error", "the server failed; the request id is in X-Request-ID"),
        status=500,
    )
