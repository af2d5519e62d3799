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


@pytest.mark.usefixtures("connection_kept_across_requests")
def test_no_generated_request_gets_a_server_error(space, actor, settings):
    """Schemathesis generates requests for every operation (valid and invalid ones,
    a bounded number each) against the app in process; none may answer 5xx."""
    settings.API_RATE_LIMIT = (100_000, 60)
    _token, raw = ApiToken.issue(space=space, name="fuzzer", scopes=[Scope.ADMIN])
    services.create_memory(space, actor, content="Maya runs on Sundays.")
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    headers = {"Authorization": f"Bearer {raw}"}
    # An Err here is an operation the schema describes badly: .ok() raises it.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()

    def fuzz(operation: Any) -> None:
        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            statuses[response.status_code // 100] += 1
            if response.status_code >= 500:
                server_errors.append(f"{operation.label}: {response.status_code} {case.body!r}")

        check()

    for operation in operations:
        fuzz(operation)
    assert server_errors == []
    assert statuses[2] > 20 and statuses[4] > 20  # it reached the views, valid and not


def test_the_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)
