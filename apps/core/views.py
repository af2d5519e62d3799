from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.errors import api_not_found, api_server_error
from apps.core.health import run_checks
from apps.dashboard.attention import FAILED_JOBS_WINDOW, attention_for
from apps.spaces.models import ApiToken, Scope


def sees_server_details(request: Request) -> bool:
    """Versions, worker host names and error texts are for whoever runs the server:
    staff, or an agent token with the admin scope."""
    if isinstance(request.auth, ApiToken):
        return Scope.ADMIN in request.auth.scopes
    user = request.user
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser))


@never_cache
@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request: Request) -> Response:
    """Anyone (load balancers, the container's probe) learns whether the server is up,
    without the second that asking the workers takes; admins get every check."""
    if sees_server_details(request):
        report = run_checks()
    else:
        report = {"status": run_checks(ask_workers=False)["status"]}
    return Response(report, status=503 if report["status"] == "down" else 200)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The person's spaces, each with what needs their attention there."""
    return render(
        request,
        "core/home.html",
        {
            "spaces": attention_for(request.user, timezone.now()),
            "failed_days": FAILED_JOBS_WINDOW.days,
        },
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception or Http404())


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_server_error(request)
    return defaults.server_error(request)
