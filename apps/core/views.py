from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
