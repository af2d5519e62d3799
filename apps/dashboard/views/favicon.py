"""/favicon.ico, which browsers ask for on their own: the SVG icon the pages link to."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
@cache_control(max_age=86_400, public=True)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Not permanent: in production the icon's static name carries a content hash.
    return HttpResponseRedirect(static("favicon.svg"))
