"""Navigation for every page: the person's spaces (the switcher) and the current one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.spaces.models import Space


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_spaces": Space.objects.for_user(user).only("slug", "name").order_by("name"),
        "curator": getattr(request, "curator", None),
    }
