"""PLACEHOLDER: being written; every view here answers 404 until then."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def _todo(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


detail = edit = status = versions = revert = purge = _todo
sessions = session = episode = _todo
audit = jobs = job = _todo
tokens = revoke = _todo
