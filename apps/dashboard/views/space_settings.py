"""A space's settings page, for its admins: name, description, the hygiene policy and
what consolidation applies without review. It saves through
apps.spaces.services.update_space, like the API's PATCH and the Django admin, so the
change is audited and a changed hygiene policy starts a scan of what is stored."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.dashboard.access import Curator, HtmxHttpRequest, go_to, space_page
from apps.dashboard.forms import SpaceSettingsForm
from apps.spaces.models import Role
from apps.spaces.services import InvalidSpaceChange, update_space

# A message's extra tag naming the job it links to (base.html renders the link).
JOB_LINK = "job:"


def _page(request: HtmxHttpRequest, form: SpaceSettingsForm, status: int = 200) -> HttpResponse:
    return render(
        request, "dashboard/space_settings.html", {"nav": "settings", "form": form}, status=status
    )


@never_cache
@require_http_methods(["GET", "POST"])
@space_page(Role.ADMIN)
def space_settings(request: HtmxHttpRequest, curator: Curator) -> HttpResponse:
    if request.method == "GET":
        return _page(request, SpaceSettingsForm(space=curator.space))
    form = SpaceSettingsForm(request.POST, space=curator.space)
    if not form.is_valid():
        return _page(request, form, status=400)
    here = reverse("dashboard:settings", args=[curator.space.slug])
    changes = form.changes()
    if not changes:
        messages.info(request, "Nothing changed.")
        return go_to(request, here)
    try:
        done = update_space(curator.space, curator.actor, changes)
    except InvalidSpaceChange as refused:
        for where, problems in refused.errors.items():
            form.add_error(where if where in form.fields else None, problems)
        return _page(request, form, status=400)
    if done.scan is not None:
        messages.success(
            request,
            f"Saved; a hygiene scan started (job #{done.scan.pk}).",
            extra_tags=f"{JOB_LINK}{done.scan.pk}",
        )
    else:
        messages.success(request, "Saved.")
    return go_to(request, here)
