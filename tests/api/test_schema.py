"""The OpenAPI schema is valid, served with its docs, and no generated request gets a 5xx."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from apps.memories import services
from apps.spaces.models import ApiToken, Scope
from memoryweb.wsgi import application

pytestmark = pytest.mark.django_db


def test_it_serves_the_schema_and_the_docs_from_local_files(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/memories",
        "/api/v1/memories/{id}",
        "/api/v1/memories/batch",
        "/api/v1/memories/{id}/revert",
        "/api/v1/episodes",
        "/api/v1/search",
        "/api/v1/links",
        "/api/v1/entities/{id}",
        "/api/v1/audit",
        "/api/v1/tokens",
        "/api/v1/export",
        "/api/v1/import",
    ):
        assert path in paths, path
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_it_describes_spaces_and_tokens_with_their_views_docstrings(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]

    for path, method in (("/api/v1/spaces", "get"), ("/api/v1/spaces/{slug}", "patch")):
        assert paths[path][method]["description"] == (
            "Spaces by slug. The slug in the URL is the space acted on, so a person's role\n"
            "there (or a token's own space) decides; another space's slug is 404."
        ), path
    for method in ("get", "post"):
        assert paths["/api/v1/tokens"][method]["description"] == (
            "The space's agent tokens. Only a hash is stored: a new token is shown once."
        ), method


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx: Any, value: Any) -> bytes:
    """The import body: generated values as JSON Lines (any value, one per line)."""
    rows = value if isinstance(value, list) else [value]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@pytest.fixture
def connection_kept_across_requests() -> Any:
    """Like Django's test client: the app in process must not close the test's
    connection (and its transaction) at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def fuzz_every_operation(
    space: Any, actor: Any, max_examples: int
) -> tuple[Counter[int], list[str]]:
    """Schemathesis generates requests for every operation (valid and invalid ones,
    `max_examples` each) against the app in process. Returns the status classes seen
    and every answer that breaks the contract: a 5xx, or a refusal without the error
    shape {"error": {"code", "message", "details"}}."""
    _token, raw = ApiToken.issue(space=space, name="fuzzer", scopes=[Scope.ADMIN])
    services.create_memory(space, actor, content="Maya runs on Sundays.")
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    headers = {"Authorization": f"Bearer {raw}"}
    # An Err here is an operation the schema describes badly: .ok() raises it.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30
    broken: list[str] = []
    statuses: Counter[int] = Counter()

    def fuzz(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            statuses[response.status_code // 100] += 1
            if response.status_code >= 500:
                broken.append(f"{operation.label}: {response.status_code} {case.body!r}")
            elif response.status_code >= 400 and not _has_error_shape(response):
                broken.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

        check()

    for operation in operations:
        fuzz(operation)
    return statuses, broken


def _has_error_shape(response: Any) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and {"code", "message", "details"} <= set(error)


@pytest.mark.usefixtures("connection_kept_across_requests")
def test_no_generated_request_gets_a_server_error(space, actor, settings):
    settings.API_RATE_LIMIT = (100_000, 60)
    statuses, broken = fuzz_every_operation(space, actor, max_examples=8)
    assert not broken, "\n".join(broken)
    assert statuses[2] > 20 and statuses[4] > 20  # it reached the views, valid and not


@pytest.mark.slow
@pytest.mark.usefixtures("connection_kept_across_requests")
def test_a_longer_fuzzing_run_finds_no_server_error_and_no_shapeless_refusal(
    space, actor, settings
):
    """The same with many more examples per operation (still bounded: a few minutes)."""
    settings.API_RATE_LIMIT = (100_000, 60)
    statuses, broken = fuzz_every_operation(space, actor, max_examples=60)
    assert not broken, "\n".join(broken)
    assert statuses[2] > 200 and statuses[4] > 200


def test_the_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)
