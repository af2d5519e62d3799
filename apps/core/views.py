from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.api.errors import api_not_found, api_server_error
from apps.core.health import run_checks
from apps.spaces.models import Space


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    report = run_checks()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    spaces = (
        Space.objects.for_user(request.user)
        .annotate(
            memory_count=Count("memories", filter=~Q(memories__status="deleted")),
        )
        .order_by("name")
    )
    return render(request, "core/home.html", {"spaces": spaces})


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
